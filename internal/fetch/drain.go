package fetch

import (
	"context"
	"fmt"
	"io"
)

// response consumes the two channels of one GetBlobAt call. The producer
// blocks until every item is taken, so whatever happens the channels are
// drained to the end (finish or abandon) and every stream is closed;
// otherwise the producer goroutine and its HTTP body leak.
type response struct {
	streams chan io.ReadCloser
	errs    chan error
	want    int // streams expected
	got     int
}

// next returns the next stream. A source error, a nil stream or a stream
// channel that ends early is an error; the caller still calls abandon.
func (r *response) next(ctx context.Context) (io.ReadCloser, error) {
	for {
		select {
		case s, ok := <-r.streams:
			if !ok {
				r.streams = nil
				return nil, fmt.Errorf("%w: got %d of %d", ErrTooFewStreams, r.got, r.want)
			}
			r.got++
			if s == nil {
				return nil, fmt.Errorf("%w: stream %d", ErrNilStream, r.got-1)
			}
			return s, nil
		case err, ok := <-r.errs:
			switch {
			case !ok:
				r.errs = nil
			case err != nil:
				return nil, fmt.Errorf("source error after %d of %d streams: %w", r.got, r.want, err)
			}
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// finish drains the channels after all wanted streams were consumed: a
// surplus stream or an error sent by the source fails the call.
func (r *response) finish() error {
	return r.drain(true)
}

// abandon drains the channels after a failure; what it finds is secondary
// to the error already being returned.
func (r *response) abandon() {
	_ = r.drain(false)
}

func (r *response) drain(complete bool) error {
	var first error
	for r.streams != nil || r.errs != nil {
		select {
		case s, ok := <-r.streams:
			if !ok {
				r.streams = nil
				continue
			}
			if s != nil {
				s.Close()
			}
			if complete && first == nil {
				first = fmt.Errorf("%w: more than %d", ErrTooManyStreams, r.want)
			}
		case err, ok := <-r.errs:
			if !ok {
				r.errs = nil
				continue
			}
			if err != nil && first == nil {
				first = fmt.Errorf("source error after all %d streams: %w", r.want, err)
			}
		}
	}
	return first
}
