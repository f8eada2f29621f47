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
	TOCJSON() io.Reader
	Close() error
	// dataEnd is where the data section ends: no payload lies beyond it.
	dataEnd() int64
	codec() fetch.Codec
	// tarSplit is the verified uncompressed tar-split, nil without one;
	// takeTarSplit hands it over to the caller.
	tarSplit() *os.File
	takeTarSplit() *os.File
	uncompressedSize() int64 // -1: unknown
	summary() MetadataSummary
}

type zstdMeta struct{ *zstdchunked.Metadata }

func (m zstdMeta) dataEnd() int64          { return int64(m.TOCOffset) }
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

func (m estargzMeta) dataEnd() int64        { return int64(m.TOCOffset) }
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

// loadWithLayout runs a format's Load with a layout builder as its sink, so
// the TOC is decoded once; the layout is the loaded layer's from then on.
func loadWithLayout(tempDir string, load func(toc.Sink) (metadata, error)) (metadata, *layout.Layout, error) {
	b, err := layout.NewBuilder(tempDir)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = b.Close() }() // a no-op once Finish handed the file on
	m, err := load(b)
	if err != nil {
		return nil, nil, err
	}
	lay, err := b.Finish(m.dataEnd())
	if err != nil {
		_ = m.Close() // temp files only: the layout error is what matters
		return nil, nil, err
	}
	return m, lay, nil
}
