package toc

import (
	"fmt"

	"github.com/opencontainers/go-digest"
)

// CheckNonNegative reports the first of size, offset, endOffset, chunkSize
// and chunkOffset that is negative.
func (e *Entry) CheckNonNegative() error {
	for _, f := range []struct {
		name string
		v    int64
	}{{"size", e.Size}, {"offset", e.Offset}, {"endOffset", e.EndOffset}, {"chunkSize", e.ChunkSize}, {"chunkOffset", e.ChunkOffset}} {
		if f.v < 0 {
			return fmt.Errorf("negative %s %d", f.name, f.v)
		}
	}
	return nil
}

// CheckDigests reports a digest or chunkDigest that is present but not a
// valid digest (the decoder leaves them unparsed).
func (e *Entry) CheckDigests() error {
	for _, d := range []digest.Digest{e.Digest, e.ChunkDigest} {
		if d != "" {
			if err := d.Validate(); err != nil {
				return fmt.Errorf("invalid digest %q: %w", d, err)
			}
		}
	}
	return nil
}

// OffsetChecker checks the payload offsets of entries given in TOC order:
// inside the data section [0, dataEnd) and, since ranges are derived from
// the next entry's offset, strictly ascending (FORMATS.md "chunk-ranges"); an endOffset
// must lie in [offset, dataEnd]. Zero offsets mean "absent".
type OffsetChecker struct {
	dataEnd int64
	last    int64
}

// NewOffsetChecker checks offsets against a data section ending at dataEnd.
func NewOffsetChecker(dataEnd int64) *OffsetChecker {
	return &OffsetChecker{dataEnd: dataEnd}
}

// Check checks e's offsets; the next entry's offset must be above e's.
func (c *OffsetChecker) Check(e *Entry) error {
	if e.Offset != 0 {
		if e.Offset >= c.dataEnd {
			return fmt.Errorf("offset %d outside the data section [0, %d)", e.Offset, c.dataEnd)
		}
		if e.Offset <= c.last {
			return fmt.Errorf("offset %d does not ascend (previous %d)", e.Offset, c.last)
		}
		c.last = e.Offset
	}
	if e.EndOffset != 0 && (e.EndOffset > c.dataEnd || e.EndOffset < e.Offset) {
		return fmt.Errorf("endOffset %d outside [offset %d, %d]", e.EndOffset, e.Offset, c.dataEnd)
	}
	return nil
}
