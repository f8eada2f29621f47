package source

import (
	"fmt"
	"math"

	"go.podman.io/storage/pkg/chunked"
)

// span is a validated, resolved byte range [off, off+n) inside the blob.
type span struct {
	off, n int64
}

// resolve checks a GetBlobAt request against a blob of the given size and
// turns it into concrete spans. Requests are rejected up front, before any
// goroutine starts, so a caller never sees half a response for a bad request.
func resolve(chunks []chunked.ImageSourceChunk, size int64) ([]span, error) {
	if len(chunks) == 0 {
		return nil, fmt.Errorf("empty range request")
	}
	spans := make([]span, len(chunks))
	var prevEnd uint64
	for i, c := range chunks {
		if c.Offset >= uint64(size) {
			return nil, fmt.Errorf("range %d (offset %d, length %d) starts at or beyond the end of the %d-byte blob", i, c.Offset, c.Length, size)
		}
		if i > 0 && c.Offset < prevEnd {
			return nil, fmt.Errorf("range %d (offset %d, length %d) is unsorted or overlaps the previous range ending at %d", i, c.Offset, c.Length, prevEnd)
		}
		length := c.Length
		if length == math.MaxUint64 {
			if i != len(chunks)-1 {
				return nil, fmt.Errorf("range %d (offset %d): length MaxUint64 (to end of blob) is only allowed for the last range", i, c.Offset)
			}
			length = uint64(size) - c.Offset
		}
		if length == 0 {
			// Not expressible as an HTTP byte range, so refuse it here too.
			return nil, fmt.Errorf("range %d (offset %d) has zero length", i, c.Offset)
		}
		if length > uint64(size)-c.Offset {
			return nil, fmt.Errorf("range %d (offset %d, length %d) extends beyond the end of the %d-byte blob", i, c.Offset, c.Length, size)
		}
		prevEnd = c.Offset + length
		spans[i] = span{off: int64(c.Offset), n: int64(length)}
	}
	return spans, nil
}
