package zstdchunked

import (
	"errors"
	"fmt"
)

// DefaultMaxTOCSize is upstream's maxTocSize: the TOC is decoded into memory
// by every consumer downstream (and by upstream itself), so a layer whose TOC
// is larger is refused rather than risking exhausting memory.
const DefaultMaxTOCSize = 150 << 20

// ErrRangesRefused is wrapped (together with the source's error) when the
// source refuses the range request (chunked.ErrBadRequest): partial pulls
// are impossible with this registry, the caller should fall back.
var ErrRangesRefused = errors.New("zstd:chunked: the source refused the range request")

// LimitError reports a size over a configured limit. It is returned before
// anything is allocated or requested.
type LimitError struct {
	What  string // e.g. "TOC compressed size"
	Size  uint64
	Limit uint64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("zstd:chunked %s %d exceeds the limit %d", e.What, e.Size, e.Limit)
}

// LayoutError reports annotated positions that cannot describe a valid blob
// (outside the blob, overflowing, overlapping).
type LayoutError struct {
	What string
}

func (e *LayoutError) Error() string { return "zstd:chunked invalid layout: " + e.What }

// DigestError reports a digest mismatch.
type DigestError struct {
	What               string // "TOC" or "tar-split"
	Expected, Computed string
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("zstd:chunked %s digest mismatch: expected %s, computed %s", e.What, e.Expected, e.Computed)
}

// InconsistentError reports a disagreement between the TOC and the
// tar-split (BEHAVIOUR §4.1).
type InconsistentError struct {
	Name  string // entry name
	Field string // "type", "name", …, or "missing"/"extra"/"duplicate"/"order"
	TOC   string // the TOC's value, formatted
	Tar   string // the tar-split's value, formatted
}

func (e *InconsistentError) Error() string {
	switch e.Field {
	case "missing", "extra", "duplicate", "order":
		return fmt.Sprintf("zstd:chunked TOC and tar-split disagree on %q: %s", e.Name, e.TOC)
	}
	return fmt.Sprintf("zstd:chunked TOC and tar-split disagree on %s of %q: TOC %s, tar-split %s", e.Field, e.Name, e.TOC, e.Tar)
}
