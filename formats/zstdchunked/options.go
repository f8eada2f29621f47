package zstdchunked

// Options tunes Load. The zero value is valid.
type Options struct {
	// TempDir receives the unlinked spool files; "" means os.TempDir().
	TempDir string
	// MaxTOCSize bounds both the compressed and the uncompressed TOC
	// length; 0 means DefaultMaxTOCSize.
	MaxTOCSize uint64
	// MaxTarSplitSize bounds both tar-split lengths; 0 means unlimited, as
	// upstream (the tar-split is streamed to disk, never held in memory, so
	// only disk space is at stake).
	MaxTarSplitSize uint64
	// Uncompressed reads the variant written for local conversion
	// (WithoutCompression): TOC and tar-split are stored raw.
	Uncompressed bool
}

func (o Options) maxTOC() uint64 {
	if o.MaxTOCSize == 0 {
		return DefaultMaxTOCSize
	}
	return o.MaxTOCSize
}
