package estargz

import (
	"context"
	"errors"
	"fmt"
	"io"

	chunked "go.podman.io/storage/pkg/chunked"
)

// fetchRange requests one range, hands its stream to fn and then drains
// both channels whatever happened, so the producer never blocks or leaks
// (BEHAVIOUR §1.2). what names the range in the errors fetchRange makes;
// fn's errors are returned as they are.
func fetchRange(ctx context.Context, src chunked.ImageSourceSeekable, c chunked.ImageSourceChunk, what string, fn func(io.Reader) error) error {
	ch, errs, err := src.GetBlobAt([]chunked.ImageSourceChunk{c})
	if err != nil {
		var bad chunked.ErrBadRequest
		if errors.As(err, &bad) {
			return fmt.Errorf("%w (%s): %w", ErrRangesRefused, what, err)
		}
		return fmt.Errorf("eStargz: requesting the %s: %w", what, err)
	}
	r := &response{ctx: ctx, ch: ch, errs: errs}
	err = r.first(fn)
	var fnErr *callbackError
	if err != nil && !errors.As(err, &fnErr) {
		err = fmt.Errorf("eStargz %s: %w", what, err)
	}
	if ferr := r.finish(); ferr != nil {
		// Keep the source's own error next to ours: a short stream is
		// often explained by it.
		err = errors.Join(err, fmt.Errorf("eStargz %s: %w", what, ferr))
	}
	return err
}

// callbackError marks fn's errors, which name what was wrong themselves, so
// fetchRange does not prefix them again. It is transparent.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }

// response consumes the channel pair of a one-range GetBlobAt call.
type response struct {
	ctx    context.Context
	ch     chan io.ReadCloser
	errs   chan error
	got    int
	srcErr error // first error seen on the error channel
}

// first waits for the one stream, runs fn on it and closes it. An error on
// the error channel before the stream is returned as is.
func (r *response) first(fn func(io.Reader) error) error {
	for {
		if r.ch == nil && r.errs == nil {
			return ErrTooFewStreams
		}
		select {
		case rc, ok := <-r.ch:
			if !ok {
				r.ch = nil
				continue // an error may still be pending: prefer it
			}
			r.got++
			if rc == nil {
				return errors.New("source returned a nil stream")
			}
			err := fn(rc)
			rc.Close()
			if err != nil {
				return &callbackError{err}
			}
			return nil
		case err, ok := <-r.errs:
			if !ok {
				r.errs = nil
				continue
			}
			if err != nil {
				r.srcErr = err
				return fmt.Errorf("source: %w", err)
			}
		case <-r.ctx.Done():
			return r.ctx.Err()
		}
	}
}

// finish drains both channels, closing surplus streams, and reports surplus
// streams and source errors first did not return. If ctx is cancelled
// meanwhile, the drain goes on in the background.
func (r *response) finish() error {
	var err error
	for r.ch != nil || r.errs != nil {
		select {
		case rc, ok := <-r.ch:
			if !ok {
				r.ch = nil
				continue
			}
			if rc != nil {
				rc.Close()
			}
			r.got++
			if r.got > 1 && err == nil {
				err = ErrTooManyStreams
			}
		case e, ok := <-r.errs:
			if !ok {
				r.errs = nil
				continue
			}
			if e != nil && r.srcErr == nil {
				r.srcErr = e
				if err == nil {
					err = fmt.Errorf("source: %w", e)
				}
			}
		case <-r.ctx.Done():
			go drain(r.ch, r.errs)
			if err == nil {
				err = r.ctx.Err()
			}
			return err
		}
	}
	return err
}

func drain(ch chan io.ReadCloser, errs chan error) {
	for ch != nil || errs != nil {
		select {
		case rc, ok := <-ch:
			if !ok {
				ch = nil
			} else if rc != nil {
				rc.Close()
			}
		case _, ok := <-errs:
			if !ok {
				errs = nil
			}
		}
	}
}
