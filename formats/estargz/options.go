package estargz

// DefaultMaxTOCSize is upstream's maxTocSize: the TOC is decoded into memory
// by consumers downstream (and by upstream itself), so a layer whose TOC is
// larger is refused rather than risking exhausting memory.
const DefaultMaxTOCSize = 150 << 20

// Options tunes Load. The zero value is valid.
type Options struct {
	// TempDir receives the unlinked TOC spool; "" means os.TempDir().
	TempDir string
	// MaxTOCSize bounds the TOC gzip member (checked from the footer,
	// before the TOC is requested) and the TOC JSON; 0 means
	// DefaultMaxTOCSize.
	MaxTOCSize uint64
}

func (o Options) maxTOC() uint64 {
	if o.MaxTOCSize == 0 {
		return DefaultMaxTOCSize
	}
	return o.MaxTOCSize
}
