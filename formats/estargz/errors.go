package estargz

import (
	"errors"
	"fmt"

	"github.com/chunkdiff/chunkdiff/internal/blobstream"
)

// ErrTooFewStreams and ErrTooManyStreams are source contract violations
// (BEHAVIOUR.md "source-contract"), shared with every GetBlobAt consumer.
var (
	ErrTooFewStreams  = blobstream.ErrTooFewStreams
	ErrTooManyStreams = blobstream.ErrTooManyStreams
)

// Errors about the TOC gzip member (rule "bad-metadata" in docs/BEHAVIOUR.md: hard errors, unlike
// *formats.LimitError).
var (
	// ErrNotTOC: the member's first tar entry is missing or is not a
	// regular file named stargz.index.json.
	ErrNotTOC = errors.New("the TOC member does not start with a regular file named stargz.index.json")
	// ErrTOCTooLarge: the TOC tar entry, or what the member inflates to, is
	// over the limit. Only known once the TOC is being read, so it is not a
	// *formats.LimitError (which means "decided before requesting anything").
	ErrTOCTooLarge = errors.New("the TOC is too large")
	// ErrTOCMemberTrailing: the member holds something after the TOC entry.
	ErrTOCMemberTrailing = errors.New("the TOC member holds more than the TOC")
)

// ErrInnerOffset is wrapped when an entry has a non-zero innerOffset
// (several payloads in one gzip member). Upstream ignores the key and then
// derives wrong ranges, so such layers are unsupported (FORMATS.md "estargz-toc").
var ErrInnerOffset = errors.New("innerOffset is not supported")

// EntryError reports a TOC entry that is unusable.
type EntryError struct {
	Index int
	Name  string
	Err   error
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("eStargz TOC entry %d (%q): %v", e.Index, e.Name, e.Err)
}

func (e *EntryError) Unwrap() error { return e.Err }
