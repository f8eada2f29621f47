//go:build chunkdiff_testhook

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"

	"go.podman.io/storage/pkg/chunked"
)

func stallAt() int64 {
	n, err := strconv.ParseInt(os.Getenv(stallEnv), 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// stall blocks until ctx is done and returns its error.
func stall(ctx context.Context) error {
	fmt.Fprintln(os.Stderr, stallMarker)
	<-ctx.Done()
	return ctx.Err()
}

// stallingSource stalls the stallAt-th GetBlobAt call.
type stallingSource struct {
	chunked.ImageSourceSeekable
	ctx   context.Context
	at    int64
	calls atomic.Int64
}

func withStall(ctx context.Context, src chunked.ImageSourceSeekable) chunked.ImageSourceSeekable {
	at := stallAt()
	if at == 0 {
		return src
	}
	return &stallingSource{ImageSourceSeekable: src, ctx: ctx, at: at}
}

func (s *stallingSource) GetBlobAt(chunks []chunked.ImageSourceChunk) (chan io.ReadCloser, chan error, error) {
	if s.calls.Add(1) == s.at {
		return nil, nil, stall(s.ctx)
	}
	return s.ImageSourceSeekable.GetBlobAt(chunks)
}

// stallingReader stalls the stallAt-th Read.
type stallingReader struct {
	io.Reader
	ctx   context.Context
	at    int64
	calls int64
}

func withStallReader(ctx context.Context, r io.Reader) io.Reader {
	at := stallAt()
	if at == 0 {
		return r
	}
	return &stallingReader{Reader: r, ctx: ctx, at: at}
}

func (s *stallingReader) Read(p []byte) (int, error) {
	if s.calls++; s.calls == s.at {
		return 0, stall(s.ctx)
	}
	return s.Reader.Read(p)
}
