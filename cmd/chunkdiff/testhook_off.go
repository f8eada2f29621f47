//go:build !chunkdiff_testhook

package main

import (
	"context"
	"io"

	"go.podman.io/storage/pkg/chunked"
)

// Without the chunkdiff_testhook tag the hook is not there at all.

func withStall(_ context.Context, src chunked.ImageSourceSeekable) chunked.ImageSourceSeekable {
	return src
}

func withStallReader(_ context.Context, r io.Reader) io.Reader { return r }
