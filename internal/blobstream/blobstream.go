// Package blobstream consumes the response of one
// chunked.ImageSourceSeekable.GetBlobAt call: a channel of streams, one per
// requested range and in request order, and a channel of errors.
//
// The producer blocks until every item is taken, so whatever happens both
// channels must be drained to the end and every stream closed; otherwise the
// producer goroutine (and, for a registry, its HTTP body) leaks. A Response
// does that: take the streams with Next, then end with Finish (which also
// reports what the source did wrong after the last stream taken) or, after a
// failure, with Abandon.
//
// Nothing here waits on the source without also waiting on a context: a
// stream's Read (see stream.go), Next, Finish and Abandon all return once
// ctx is done. What is left to drain then is drained in the background
// until the source closes its channels or the lifetime attached to ctx
// (WithLifetime; the differ's ends at Close) ends, so a source that never
// closes its channels costs no goroutine beyond that lifetime.
package blobstream

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Source contract violations, always wrapped with the stream counts.
var (
	// ErrTooFewStreams: the source closed its stream channel before
	// sending one stream per requested range.
	ErrTooFewStreams = errors.New("source returned fewer streams than ranges requested")
	// ErrTooManyStreams: the source sent more streams than ranges
	// requested (or Next was called once more than ranges requested).
	ErrTooManyStreams = errors.New("source returned more streams than ranges requested")
	// ErrNilStream: the source sent a nil stream.
	ErrNilStream = errors.New("source returned a nil stream")
)

// Response is the channel pair of one GetBlobAt call for want ranges. It is
// not safe for concurrent use.
type Response struct {
	streams  chan io.ReadCloser
	errs     chan error
	want     int
	got      int  // streams received, drained ones included
	reported bool // an error from the error channel was already returned
	// end is the lifetime of background drains (see WithLifetime), from
	// the ctx last given to Next or Finish.
	end <-chan struct{}
}

// New wraps the channels GetBlobAt returned for want ranges.
func New(streams chan io.ReadCloser, errs chan error, want int) *Response {
	return &Response{streams: streams, errs: errs, want: want}
}

// Want is the number of ranges requested.
func (r *Response) Want() int { return r.want }

// Next returns the next stream; the caller closes it. An error sent by the
// source is returned as soon as it arrives (wrapped), and preferred to
// ErrTooFewStreams when the stream channel ends early. A nil stream is
// ErrNilStream; a cancelled ctx returns context.Cause(ctx). After an error
// the caller still calls Finish or Abandon.
//
// The stream's Read returns context.Cause(ctx) as soon as ctx is done, even
// if the source's Read never returns (see stream.go). Read and Close it
// from one goroutine at a time: to interrupt a Read from elsewhere, cancel
// ctx (closing a source stream under a running Read is what that does).
func (r *Response) Next(ctx context.Context) (io.ReadCloser, error) {
	r.end = lifetime(ctx)
	if r.got >= r.want {
		return nil, fmt.Errorf("%w: all %d streams already taken", ErrTooManyStreams, r.want)
	}
	for {
		if r.streams == nil && r.errs == nil {
			return nil, fmt.Errorf("stream %d of %d: %w", r.got+1, r.want, ErrTooFewStreams)
		}
		select {
		case rc, ok := <-r.streams:
			if !ok {
				r.streams = nil
				continue // an error may still be pending: prefer it
			}
			r.got++
			if rc == nil {
				return nil, fmt.Errorf("stream %d of %d: %w", r.got, r.want, ErrNilStream)
			}
			return newPumped(ctx, rc), nil
		case err, ok := <-r.errs:
			if !ok {
				r.errs = nil
				continue
			}
			if err != nil {
				r.reported = true
				return nil, r.sourceError(err)
			}
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// Finish drains both channels, closing the streams not taken, and reports
// the first problem found: a stream beyond the ranges requested
// (ErrTooManyStreams) or an error sent by the source that Next has not
// returned already. Streams not taken by Next are not an error: the caller
// may stop early. If ctx is cancelled meanwhile, Finish returns (with
// context.Cause(ctx) unless it already found a problem) and the drain goes
// on in the background.
func (r *Response) Finish(ctx context.Context) error {
	r.end = lifetime(ctx)
	var err error
	for r.streams != nil || r.errs != nil {
		select {
		case rc, ok := <-r.streams:
			if !ok {
				r.streams = nil
				continue
			}
			if rc != nil {
				_ = rc.Close()
			}
			r.got++
			if r.got > r.want && err == nil {
				err = fmt.Errorf("%w: more than %d", ErrTooManyStreams, r.want)
			}
		case e, ok := <-r.errs:
			if !ok {
				r.errs = nil
				continue
			}
			if e != nil && !r.reported {
				r.reported = true
				if err == nil {
					err = r.sourceError(e)
				}
			}
		case <-ctx.Done():
			go drain(r.streams, r.errs, lifetime(ctx))
			r.streams, r.errs = nil, nil
			if err == nil {
				err = context.Cause(ctx)
			}
			return err
		}
	}
	return err
}

// Abandon drains both channels after a failure, closing every stream; what
// it finds is secondary to the error the caller is already returning. It
// returns at once: the drain runs in the background until the source closes
// both channels or the lifetime attached to the ctx last given to Next or
// Finish ends.
func (r *Response) Abandon() {
	if r.streams != nil || r.errs != nil {
		go drain(r.streams, r.errs, r.end)
	}
	r.streams, r.errs = nil, nil
}

func (r *Response) sourceError(err error) error {
	return fmt.Errorf("source error after %d of %d streams: %w", r.got, r.want, err)
}

type lifetimeKey struct{}

// WithLifetime attaches life to ctx: drains that outlive ctx (after it is
// cancelled, or after Abandon) stop when life is done. Without one they run
// until the source closes its channels.
func WithLifetime(ctx, life context.Context) context.Context {
	return context.WithValue(ctx, lifetimeKey{}, life)
}

func lifetime(ctx context.Context) <-chan struct{} {
	if life, ok := ctx.Value(lifetimeKey{}).(context.Context); ok {
		return life.Done()
	}
	return nil
}

// drain takes and closes streams until the source closes both channels or
// end is closed (then the source's producer is left blocked: it never
// closed its channels, so nothing could ever end it cleanly).
func drain(streams chan io.ReadCloser, errs chan error, end <-chan struct{}) {
	for streams != nil || errs != nil {
		select {
		case <-end:
			return
		case rc, ok := <-streams:
			if !ok {
				streams = nil
			} else if rc != nil {
				_ = rc.Close()
			}
		case _, ok := <-errs:
			if !ok {
				errs = nil
			}
		}
	}
}
