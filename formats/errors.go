package formats

import "fmt"

// Format names used as the prefix of every error message.
const (
	ZstdChunked = "zstd:chunked"
	EStargz     = "eStargz"
)

// LimitError reports a size over a configured limit, decided before the
// data is requested or allocated (rule "metadata-too-large": the caller may
// fall back).
type LimitError struct {
	Format string // ZstdChunked or EStargz
	What   string // e.g. "TOC compressed size"
	Size   uint64
	Limit  uint64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s %s %d exceeds the limit %d", e.Format, e.What, e.Size, e.Limit)
}

// LayoutError reports positions (annotations, footer) that cannot describe a
// valid blob: outside it, overflowing, overlapping.
type LayoutError struct {
	Format string
	What   string
}

func (e *LayoutError) Error() string { return e.Format + " invalid layout: " + e.What }

// DigestError reports a metadata digest mismatch.
type DigestError struct {
	Format             string
	What               string // "TOC" or "tar-split"
	Expected, Computed string
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("%s %s digest mismatch: expected %s, computed %s", e.Format, e.What, e.Expected, e.Computed)
}
