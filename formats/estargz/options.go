package estargz

import "github.com/chunkdiff/chunkdiff/formats"

// Options tunes Load. The zero value is valid.
type Options struct {
	// TempDir receives the unlinked TOC spool; "" means os.TempDir().
	TempDir string
	// Limits: Limits.MaxTOC() bounds the TOC gzip member (checked from the
	// footer, before the TOC is requested) and the TOC JSON; zero fields
	// take the defaults.
	Limits formats.Limits
}
