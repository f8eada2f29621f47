package differ

import (
	"io"
	"os"

	"github.com/chunkdiff/chunkdiff/formats/estargz"
	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/formats/zstdchunked"
	"github.com/chunkdiff/chunkdiff/internal/fetch"
	"github.com/chunkdiff/chunkdiff/internal/layout"
)

// metadata is what the rest of the lifecycle needs from a loaded layer,
// whatever its format.
type metadata interface {
	Entries() (*toc.Decoder, error)
	TOCJSON() io.Reader
	Close() error
	layout() layout.Options
	codec() fetch.Codec
	// tarSplit is the verified uncompressed tar-split, nil without one;
	// takeTarSplit hands it over to the caller.
	tarSplit() *os.File
	takeTarSplit() *os.File
	uncompressedSize() int64 // -1: unknown
	summary() MetadataSummary
}

type zstdMeta struct{ *zstdchunked.Metadata }

func (m zstdMeta) layout() layout.Options {
	return layout.Options{DataEnd: int64(m.TOCOffset)}
}
func (zstdMeta) codec() fetch.Codec        { return fetch.Zstd }
func (m zstdMeta) tarSplit() *os.File      { return m.TarSplit() }
func (m zstdMeta) takeTarSplit() *os.File  { return m.TakeTarSplit() }
func (m zstdMeta) uncompressedSize() int64 { return m.UncompressedTarSize }
func (m zstdMeta) summary() MetadataSummary {
	return MetadataSummary{
		TOCDigest: m.TOCDigest, TOCOffset: m.TOCOffset,
		TOCCompressedSize: m.TOCCompressedSize, TOCUncompressedSize: m.TOCUncompressedSize,
		TarSplitDigest: m.TarSplitDigest, TarSplitCompressedSize: m.TarSplitCompressedSize,
		TarSplitSize: m.TarSplitSize, UncompressedSize: m.UncompressedTarSize,
		Entries: m.Counts.Entries, RegularFiles: m.Counts.Regular, Chunks: m.Counts.Chunks,
		Dirs: m.Counts.Dirs, Symlinks: m.Counts.Symlinks, Hardlinks: m.Counts.Hardlinks, Other: m.Counts.Other,
	}
}

type estargzMeta struct{ *estargz.Metadata }

func (m estargzMeta) layout() layout.Options {
	// Landmarks and the TOC entry are not part of the layer (upstream drops
	// them too).
	return layout.Options{DataEnd: int64(m.TOCOffset), Skip: m.SkipNames()}
}
func (estargzMeta) codec() fetch.Codec      { return fetch.Gzip }
func (estargzMeta) tarSplit() *os.File      { return nil }
func (estargzMeta) takeTarSplit() *os.File  { return nil }
func (estargzMeta) uncompressedSize() int64 { return -1 }
func (m estargzMeta) summary() MetadataSummary {
	return MetadataSummary{
		TOCDigest: m.TOCDigest, TOCOffset: m.TOCOffset,
		TOCCompressedSize: m.TOCCompressedSize, TOCUncompressedSize: m.TOCUncompressedSize,
		UncompressedSize: -1,
		Entries:          m.Counts.Entries, RegularFiles: m.Counts.Regular, Chunks: m.Counts.Chunks,
		Dirs: m.Counts.Dirs, Symlinks: m.Counts.Symlinks, Hardlinks: m.Counts.Hardlinks, Other: m.Counts.Other,
	}
}
