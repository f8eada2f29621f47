package zstdchunked

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// ErrTooFewStreams and ErrTooManyStreams are source contract violations
// (BEHAVIOUR §1.2).
var (
	ErrTooFewStreams  = errors.New("source returned fewer streams than ranges requested")
	ErrTooManyStreams = errors.New("source returned more streams than ranges requested")
)

// streams consumes the channel pair returned by GetBlobAt, one stream per
// requested range, in order.
type streams struct {
	ctx    context.Context
	ch     chan io.ReadCloser
	errs   chan error
	want   int
	got    int
	srcErr error // first error seen on the error channel
}

// next returns the next stream. An error from the error channel is returned
// as soon as it arrives.
func (s *streams) next() (io.ReadCloser, error) {
	if s.got >= s.want {
		return nil, ErrTooManyStreams // caller bug; never asks for more
	}
	for {
		if s.ch == nil && s.errs == nil {
			return nil, fmt.Errorf("stream %d of %d: %w", s.got+1, s.want, ErrTooFewStreams)
		}
		select {
		case rc, ok := <-s.ch:
			if !ok {
				s.ch = nil
				continue // an error may still be pending: prefer it
			}
			s.got++
			if rc == nil {
				return nil, fmt.Errorf("stream %d of %d: source returned a nil stream", s.got, s.want)
			}
			return rc, nil
		case err, ok := <-s.errs:
			if !ok {
				s.errs = nil
				continue
			}
			if err != nil {
				if s.srcErr == nil {
					s.srcErr = err
				}
				return nil, fmt.Errorf("source: %w", err)
			}
		case <-s.ctx.Done():
			return nil, s.ctx.Err()
		}
	}
}

// finish drains both channels, closing surplus streams, so the producer
// never blocks or leaks. It reports surplus streams and source errors not
// yet returned by next. If ctx is cancelled meanwhile, the drain goes on in
// the background.
func (s *streams) finish() error {
	var err error
	for s.ch != nil || s.errs != nil {
		select {
		case rc, ok := <-s.ch:
			if !ok {
				s.ch = nil
				continue
			}
			if rc != nil {
				rc.Close()
			}
			s.got++
			if s.got > s.want && err == nil {
				err = ErrTooManyStreams
			}
		case e, ok := <-s.errs:
			if !ok {
				s.errs = nil
				continue
			}
			if e != nil && s.srcErr == nil {
				s.srcErr = e
				if err == nil {
					err = fmt.Errorf("source: %w", e)
				}
			}
		case <-s.ctx.Done():
			go drain(s.ch, s.errs)
			if err == nil {
				err = s.ctx.Err()
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
