package zstdchunked

import (
	"errors"
	"io"
	"os"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/opencontainers/go-digest"
)

// Counts summarises the TOC entries.
type Counts struct {
	Entries   int // all entries, chunk entries included
	Regular   int
	Chunks    int
	Dirs      int
	Symlinks  int
	Hardlinks int
	Other     int // char, block, fifo
}

// Metadata is the verified TOC and tar-split of a zstd:chunked layer. Both
// live in unlinked temp files; Close releases them.
type Metadata struct {
	TOCDigest digest.Digest
	// TOCOffset is the TOC data offset, which is also the end of the data
	// section: every entry's payload lies in [0, TOCOffset).
	TOCOffset              uint64
	TOCCompressedSize      uint64
	TOCUncompressedSize    uint64
	TarSplitDigest         digest.Digest // "" when the TOC has none
	TarSplitCompressedSize uint64        // 0 without tar-split
	TarSplitSize           uint64        // uncompressed; 0 without tar-split
	// UncompressedTarSize is the size of the layer tar, computed from the
	// tar-split; -1 without tar-split.
	UncompressedTarSize int64
	TOCVersion          int
	Counts              Counts

	tocFile  *os.File
	tarSplit *os.File
}

// HasTarSplit reports whether a verified tar-split is attached.
func (m *Metadata) HasTarSplit() bool { return m.tarSplit != nil }

// Entries returns a new decoder over the TOC, reading the spool from the
// start; several may be used at once.
func (m *Metadata) Entries() (*toc.Decoder, error) {
	if m.tocFile == nil {
		return nil, errors.New("zstd:chunked metadata is closed")
	}
	return toc.NewDecoder(m.TOCJSON()), nil
}

// TOCJSON returns the raw uncompressed TOC JSON, from the start.
func (m *Metadata) TOCJSON() io.Reader {
	if m.tocFile == nil {
		return eofReader{}
	}
	return io.NewSectionReader(m.tocFile, 0, int64(m.TOCUncompressedSize))
}

// TarSplit returns the uncompressed tar-split file (nil without one). Its
// position is unspecified; read it with ReadAt or seek first. Metadata still
// owns it.
func (m *Metadata) TarSplit() *os.File { return m.tarSplit }

// TakeTarSplit hands the tar-split file over to the caller, who must close
// it; Close will no longer do so.
func (m *Metadata) TakeTarSplit() *os.File {
	f := m.tarSplit
	m.tarSplit = nil
	return f
}

// Close releases both temp files.
func (m *Metadata) Close() error {
	var errs []error
	if m.tocFile != nil {
		errs = append(errs, m.tocFile.Close())
		m.tocFile = nil
	}
	if m.tarSplit != nil {
		errs = append(errs, m.tarSplit.Close())
		m.tarSplit = nil
	}
	return errors.Join(errs...)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
