// Package seekable adapts containers/storage's chunked.ImageSourceSeekable to
// blob.Source. It is the only place where the storage range vocabulary meets
// ours: the differ calls From once, at its boundary, and the format parsers
// below it never import storage.
package seekable

import (
	"errors"
	"fmt"
	"io"

	"github.com/chunkdiff/chunkdiff/internal/blob"
	"go.podman.io/storage/pkg/chunked"
)

// From returns src as a blob.Source; nil stays nil. A chunked.ErrBadRequest
// from src is returned wrapped in blob.ErrRangesRefused (and still matches
// chunked.ErrBadRequest).
func From(src chunked.ImageSourceSeekable) blob.Source {
	if src == nil {
		return nil
	}
	return adapter{src}
}

type adapter struct{ src chunked.ImageSourceSeekable }

func (a adapter) GetBlobAt(ranges []blob.Range) (chan io.ReadCloser, chan error, error) {
	chunks := make([]chunked.ImageSourceChunk, len(ranges))
	for i, r := range ranges {
		chunks[i] = chunked.ImageSourceChunk{Offset: r.Offset, Length: r.Length}
	}
	ch, errs, err := a.src.GetBlobAt(chunks)
	if err != nil {
		var bad chunked.ErrBadRequest
		if errors.As(err, &bad) {
			return nil, nil, fmt.Errorf("%w: %w", blob.ErrRangesRefused, err)
		}
		return nil, nil, err
	}
	return ch, errs, nil
}

// Chunked returns the storage source behind s: the one given to From, or,
// for any other blob.Source, an adapter back whose refusals match
// chunked.ErrBadRequest. It serves the packages that still speak storage's
// vocabulary (internal/fetch, convert).
func Chunked(s blob.Source) chunked.ImageSourceSeekable {
	switch s := s.(type) {
	case nil:
		return nil
	case adapter:
		return s.src
	}
	return back{s}
}

type back struct{ src blob.Source }

func (b back) GetBlobAt(chunks []chunked.ImageSourceChunk) (chan io.ReadCloser, chan error, error) {
	ranges := make([]blob.Range, len(chunks))
	for i, c := range chunks {
		ranges[i] = blob.Range{Offset: c.Offset, Length: c.Length}
	}
	ch, errs, err := b.src.GetBlobAt(ranges)
	if err != nil && errors.Is(err, blob.ErrRangesRefused) {
		return nil, nil, errors.Join(chunked.ErrBadRequest{}, err)
	}
	return ch, errs, err
}
