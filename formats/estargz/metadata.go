package estargz

import (
	"errors"
	"io"
	"maps"
	"os"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	stargz "github.com/containerd/stargz-snapshotter/estargz"
	"github.com/opencontainers/go-digest"
)

// Metadata is the verified TOC of an eStargz layer, spooled to an unlinked
// temp file; Close releases it. eStargz has no tar-split, so the layer's
// uncompressed size and DiffID are unknown (the differ reports size -1 and
// no uncompressed digest).
type Metadata struct {
	TOCDigest digest.Digest
	// TOCOffset is the offset of the TOC gzip member, which is also the end
	// of the data section: every entry's payload lies in [0, TOCOffset).
	TOCOffset uint64
	// TOCCompressedSize is the TOC gzip member's length (up to the footer).
	TOCCompressedSize uint64
	// TOCUncompressedSize is the TOC JSON's length.
	TOCUncompressedSize uint64
	// UncompressedTarSize is always -1: without tar-split it is unknown.
	// Kept so callers can treat both formats alike.
	UncompressedTarSize int64
	TOCVersion          int
	Counts              Counts

	tocFile *os.File
}

// HasTarSplit is always false: eStargz has no tar-split.
func (m *Metadata) HasTarSplit() bool { return false }

// Entries returns a new decoder over the TOC, reading the spool from the
// start; several may be used at once.
func (m *Metadata) Entries() (*toc.Decoder, error) {
	if m.tocFile == nil {
		return nil, errors.New("eStargz metadata is closed")
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

// skipNames are the entry names upstream drops from eStargz TOCs before
// laying files out (FORMATS.md "estargz-toc"): the landmarks, which are not
// part of the original layer, and the TOC itself. A Sink never sees them.
var skipNames = map[string]bool{
	stargz.PrefetchLandmark:   true,
	stargz.NoPrefetchLandmark: true,
	stargz.TOCTarName:         true,
}

// SkipNames returns the names a Sink never sees; the map is the caller's.
func (m *Metadata) SkipNames() map[string]bool { return maps.Clone(skipNames) }

// Close releases the spool. It is safe to call more than once.
func (m *Metadata) Close() error {
	if m.tocFile == nil {
		return nil
	}
	err := m.tocFile.Close()
	m.tocFile = nil
	return err
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
