package zstdchunked

import (
	"github.com/chunkdiff/chunkdiff/formats"
	"github.com/chunkdiff/chunkdiff/formats/toc"
)

// Options tunes Load. The zero value is valid.
type Options struct {
	// TempDir receives the unlinked spool files; "" means os.TempDir().
	TempDir string
	// Limits: Limits.MaxTOC() bounds both TOC lengths (the policy decides
	// which limit that is), MaxTarSplitSize both tar-split lengths, checked
	// before anything is requested; zero fields take the defaults.
	Limits formats.Limits
	// Uncompressed reads the variant written for local conversion
	// (WithoutCompression): TOC and tar-split are stored raw.
	Uncompressed bool
	// Sink, if not nil, receives every entry during Load's one decoding
	// pass, so the caller builds what it needs without decoding the TOC
	// again; its TempSpace is part of the free-space check.
	Sink toc.Sink
}
