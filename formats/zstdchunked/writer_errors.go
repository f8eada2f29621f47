package zstdchunked

import (
	"fmt"

	"github.com/vbatts/tar-split/tar/storage"
)

// ErrDuplicatePath is wrapped by DuplicatePathError: tar-split cannot
// record a tar holding the same path twice, so neither upstream's writer
// nor ours can convert one (FORMATS.md "tar-split-encoding").
var ErrDuplicatePath = storage.ErrDuplicatePath

// UnsupportedEntryError reports a tar entry the format cannot describe: a
// typeflag with no TOC type (PAX global header, GNU sparse, volume label,
// …, upstream's "unknown tarball type"), or a PAX-format GNU sparse file,
// whose stored bytes differ from its logical content.
type UnsupportedEntryError struct {
	Name     string
	Typeflag byte
	Reason   string
}

func (e *UnsupportedEntryError) Error() string {
	return fmt.Sprintf("zstd:chunked writer: tar entry %q: unknown tarball type %q: %s", e.Name, e.Typeflag, e.Reason)
}

// DuplicatePathError names the entry whose path repeats an earlier one.
type DuplicatePathError struct {
	Name string
}

func (e *DuplicatePathError) Error() string {
	return fmt.Sprintf("zstd:chunked writer: tar entry %q: %v", e.Name, ErrDuplicatePath)
}

func (e *DuplicatePathError) Unwrap() error { return ErrDuplicatePath }
