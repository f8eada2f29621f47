package estargz

import (
	"github.com/chunkdiff/chunkdiff/formats"
	"github.com/chunkdiff/chunkdiff/formats/toc"
)

// Options tunes Load. The zero value is valid.
type Options struct {
	// TempDir receives the unlinked TOC spool; "" means os.TempDir().
	TempDir string
	// Limits: Limits.MaxTOC() bounds the TOC gzip member (checked from the
	// footer, before the TOC is requested) and the TOC JSON; zero fields
	// take the defaults.
	Limits formats.Limits
	// Sink, if not nil, receives the layer's entries during Load's one
	// decoding pass (the landmarks and the TOC entry, which are not part
	// of the layer, are not passed on); its TempSpace is checked once the
	// TOC's size is known.
	Sink toc.Sink
}
