package zstdchunked

import "fmt"

// InconsistentError reports a disagreement between the TOC and the
// tar-split (BEHAVIOUR.md "toc-tarsplit-consistency").
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
