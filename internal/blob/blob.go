// Package blob is the vocabulary for reading a layer blob by byte ranges:
// a Range, a Source that serves ranges, and ErrRangesRefused. It depends on
// nothing but the standard library, so the format parsers can use it without
// linking containers/storage; the differ adapts storage's
// chunked.ImageSourceSeekable to Source once, at its boundary
// (internal/blob/seekable).
package blob

import (
	"errors"
	"io"
)

// Range is a byte range of a blob.
type Range struct {
	Offset uint64
	Length uint64
}

// Source serves byte ranges of one blob. GetBlobAt returns one stream per
// requested range, in request order, then closes the stream channel; errors
// met while streaming arrive on the error channel, which is closed last. The
// caller must drain both channels and close every stream (internal/blobstream
// does that). An immediate error matching ErrRangesRefused means the source
// cannot serve ranges at all (rule "ranges-refused" in docs/BEHAVIOUR.md).
type Source interface {
	GetBlobAt(ranges []Range) (chan io.ReadCloser, chan error, error)
}

// ErrRangesRefused is wrapped, together with the source's own error, when the
// source refuses a range request: partial pulls are impossible with this
// registry, the caller falls back or converts.
var ErrRangesRefused = errors.New("the source refused the range request")
