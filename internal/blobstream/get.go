package blobstream

import (
	"context"
	"io"
)

// Getter is a range source: storage's chunked.ImageSourceSeekable (R is
// chunked.ImageSourceChunk) or the formats' blob.Source (R is blob.Range).
// Generic so that this package, which the format parsers use, links no
// storage code.
type Getter[R any] interface {
	GetBlobAt(ranges []R) (chan io.ReadCloser, chan error, error)
}

// Get calls src.GetBlobAt(ranges) and wraps its channels in a Response, or
// returns ctx's cause if ctx ends first: a registry that accepts the
// request but never answers must not hang the pull. The call left running
// then stays inside the source until it returns; whatever it returns is
// drained in the background, until the lifetime attached to ctx ends. The
// source's own errors are returned unwrapped (callers test them for
// chunked.ErrBadRequest or blob.ErrRangesRefused).
func Get[R any](ctx context.Context, src Getter[R], ranges []R) (*Response, error) {
	type answer struct {
		streams chan io.ReadCloser
		errs    chan error
		err     error
	}
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	ch := make(chan answer, 1)
	go func() {
		s, e, err := src.GetBlobAt(ranges)
		ch <- answer{s, e, err}
	}()
	select {
	case a := <-ch:
		if a.err != nil {
			return nil, a.err
		}
		return New(a.streams, a.errs, len(ranges)), nil
	case <-ctx.Done():
		end := lifetime(ctx)
		go func() {
			select {
			case a := <-ch:
				if a.err == nil {
					drain(a.streams, a.errs, end)
				}
			case <-end:
			}
		}()
		return nil, context.Cause(ctx)
	}
}
