package differ

import (
	"errors"
	"io"
	"os"

	"github.com/chunkdiff/chunkdiff/convert"
	"github.com/chunkdiff/chunkdiff/internal/source"
	"go.podman.io/storage/pkg/chunked"

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
	// blobSource is where the chunks' bytes come from; nil means the
	// context's source (the registry).
	blobSource() chunked.ImageSourceSeekable
	// conversion is the local conversion this metadata comes from, nil for
	// layers pulled partially.
	conversion() *convert.Local
}

type zstdMeta struct{ *zstdchunked.Metadata }

func (m zstdMeta) layout() layout.Options {
	return layout.Options{DataEnd: int64(m.TOCOffset)}
}
func (zstdMeta) codec() fetch.Codec                      { return fetch.Zstd }
func (zstdMeta) blobSource() chunked.ImageSourceSeekable { return nil }
func (zstdMeta) conversion() *convert.Local              { return nil }
func (m zstdMeta) tarSplit() *os.File                    { return m.TarSplit() }
func (m zstdMeta) takeTarSplit() *os.File                { return m.TakeTarSplit() }
func (m zstdMeta) uncompressedSize() int64               { return m.UncompressedTarSize }
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

// convertedMeta is a layer downloaded whole and converted locally
// (convert_images): its TOC describes the uncompressed variant in a local
// temp file, which is also where every chunk is read from.
type convertedMeta struct {
	zstdMeta
	local *convert.Local
	src   *source.ReaderAt
}

func newConvertedMeta(m *zstdchunked.Metadata, local *convert.Local, src *source.ReaderAt) convertedMeta {
	return convertedMeta{zstdMeta: zstdMeta{m}, local: local, src: src}
}

func (convertedMeta) codec() fetch.Codec                        { return fetch.Raw }
func (m convertedMeta) blobSource() chunked.ImageSourceSeekable { return m.src }
func (m convertedMeta) conversion() *convert.Local              { return m.local }
func (m convertedMeta) uncompressedSize() int64                 { return m.local.TarSize }
func (m convertedMeta) Close() error {
	return errors.Join(m.zstdMeta.Close(), m.local.Close())
}

func (estargzMeta) blobSource() chunked.ImageSourceSeekable { return nil }
func (estargzMeta) conversion() *convert.Local              { return nil }
