package main

import (
	"errors"
	"fmt"

	digest "github.com/opencontainers/go-digest"
	storage "go.podman.io/storage"
	"go.podman.io/storage/pkg/chunked"
)

// isFallback reports whether err tells c/image to download the layer
// whole: upstream's fallback type, which ours matches too.
func isFallback(err error) bool {
	var fb chunked.ErrFallbackToOrdinaryLayerDownload
	return errors.As(err, &fb)
}

// ordinary is what c/image does after a fallback: the whole blob, read
// from the same counted source (so its bytes are reported), applied with
// store.PutLayer, which decompresses it.
func ordinary(store storage.Store, dgst digest.Digest, size int64, src chunked.ImageSourceSeekable, parent string) (*storage.Layer, error) {
	streams, errs, err := src.GetBlobAt([]chunked.ImageSourceChunk{{Offset: 0, Length: uint64(size)}})
	if err != nil {
		return nil, fmt.Errorf("ordinary download: %w", err)
	}
	rc, ok := <-streams
	if !ok {
		return nil, fmt.Errorf("ordinary download: no stream: %w", <-errs)
	}
	defer rc.Close()
	opts := &storage.LayerOptions{OriginalDigest: dgst, OriginalSize: &size}
	l, _, err := store.PutLayer("", parent, nil, "", false, opts, rc)
	if err != nil {
		return nil, fmt.Errorf("ordinary download: PutLayer: %w", err)
	}
	for range streams { // none expected: one range
	}
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("ordinary download: %w", err)
	}
	return l, nil
}
