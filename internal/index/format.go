package index

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
)

// On-disk format of one layer's index, all integers little-endian:
//
//	header   64 bytes
//	  0  [8]  magic "CDXINDEX"
//	  8  u32  version
//	  12 u32  kind (Kind)
//	  16 u64  record count N
//	  24 u64  string table length S
//	  32 u32  layer ID length
//	  36 u32  fingerprint length
//	  40 u64  total file size
//	  48 u64  Bloom filter blocks B
//	  56 [8]  zero
//	layer ID, fingerprint, zero padding to a multiple of 64
//	bloom    B × 64 bytes (bloom.go), cache-line aligned
//	fanout   256 × u32: fanout[b] = records whose digest's first byte ≤ b
//	records  N × 56 bytes, sorted by digest, one per digest
//	  0  [32] sha256 digest
//	  32 u64  offset in the file
//	  40 u64  length
//	  48 u32  path offset in the string table
//	  52 u16  path length
//	  54 u16  flags (flagWhole: the location is the whole file)
//	strings  S bytes: paths relative to the layer's diff directory, no
//	         separators between them, consecutive duplicates shared
//	trailer  8 bytes
//	  u32  CRC-32C (Castagnoli) of every byte before the trailer
//	  [4]  "CDX\n"
//
// A lookup first tests the layer's Bloom filter (one cache line; the
// filters of all layers are small enough to stay cached, which is what makes
// misses cheap across hundreds of layers), then takes the fanout bucket of
// the digest's first byte and binary searches it, touching about
// log2(N/256)+1 records.
const (
	magic       = "CDXINDEX"
	trailerMark = "CDX\n"
	// Version changes whenever the layout or what gets indexed changes; a
	// file of another version is rebuilt.
	Version = 2

	headerSize  = 64
	fanoutSize  = 256 * 4
	recordSize  = 56
	trailerSize = 8

	flagWhole = 1

	maxPathLen = math.MaxUint16
	maxStrings = math.MaxUint32
	// maxIDLen bounds header strings so a corrupt length cannot make us
	// allocate much.
	maxIDLen = 4096
)

// Kind is what a layer's index was built from.
type Kind uint32

const (
	// KindTOC: a Dir-format layer's stored TOC.
	KindTOC Kind = 1
	// KindTOCFlat: a Flat-format (digest-named files) layer's stored TOC.
	KindTOCFlat Kind = 2
	// KindFiles: the layer's files, hashed (no chunk records).
	KindFiles Kind = 3
)

func (k Kind) String() string {
	switch k {
	case KindTOC:
		return "toc"
	case KindTOCFlat:
		return "toc-flat"
	case KindFiles:
		return "files"
	}
	return fmt.Sprintf("kind(%d)", uint32(k))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// record is one entry while building; its encoding is recordSize bytes.
type record struct {
	digest [32]byte
	offset uint64
	length uint64
	strOff uint32
	strLen uint16
	flags  uint16
}

// header is the decoded fixed part of a file.
type header struct {
	version     uint32
	kind        Kind
	n           uint64
	stringsLen  uint64
	idLen       uint32
	fpLen       uint32
	size        uint64
	blocks      uint64
	bloomAt     uint64 // derived offsets
	recordsAt   uint64 // the fanout ends here
	stringsAt   uint64
	fingerprint string
	layerID     string
}

func align64(n uint64) uint64 { return (n + 63) &^ 63 }

// encode writes a complete file for recs (sorted, unique by digest) and
// strs to w.
func encode(w io.Writer, kind Kind, layerID, fingerprint string, recs []record, strs []byte) error {
	if len(layerID) > maxIDLen || len(fingerprint) > maxIDLen {
		return fmt.Errorf("%w: layer ID or fingerprint longer than %d bytes", ErrTooLarge, maxIDLen)
	}
	if uint64(len(strs)) > maxStrings {
		return fmt.Errorf("%w: %d bytes of paths", ErrTooLarge, len(strs))
	}
	meta := headerSize + uint64(len(layerID)) + uint64(len(fingerprint))
	bloom := newBloom(recs)
	recordsAt := align64(meta) + uint64(len(bloom)) + fanoutSize
	stringsAt := recordsAt + uint64(len(recs))*recordSize
	size := stringsAt + uint64(len(strs)) + trailerSize

	crc := crc32.New(castagnoli)
	bw := newBufWriter(io.MultiWriter(w, crc))

	var h [headerSize]byte
	copy(h[0:8], magic)
	le := binary.LittleEndian
	le.PutUint32(h[8:], Version)
	le.PutUint32(h[12:], uint32(kind))
	le.PutUint64(h[16:], uint64(len(recs)))
	le.PutUint64(h[24:], uint64(len(strs)))
	le.PutUint32(h[32:], uint32(len(layerID)))
	le.PutUint32(h[36:], uint32(len(fingerprint)))
	le.PutUint64(h[40:], size)
	le.PutUint64(h[48:], uint64(len(bloom))/blockSize)
	bw.write(h[:])
	bw.write([]byte(layerID))
	bw.write([]byte(fingerprint))
	bw.write(make([]byte, align64(meta)-meta))
	bw.write(bloom)

	var fan [fanoutSize]byte
	var counts [256]uint32
	for i := range recs {
		counts[recs[i].digest[0]]++
	}
	var cum uint32
	for b := range 256 {
		cum += counts[b]
		le.PutUint32(fan[b*4:], cum)
	}
	bw.write(fan[:])

	var rb [recordSize]byte
	for i := range recs {
		r := &recs[i]
		copy(rb[0:32], r.digest[:])
		le.PutUint64(rb[32:], r.offset)
		le.PutUint64(rb[40:], r.length)
		le.PutUint32(rb[48:], r.strOff)
		le.PutUint16(rb[52:], r.strLen)
		le.PutUint16(rb[54:], r.flags)
		bw.write(rb[:])
	}
	bw.write(strs)
	if err := bw.flush(); err != nil {
		return err
	}
	var t [trailerSize]byte
	le.PutUint32(t[0:], crc.Sum32())
	copy(t[4:], trailerMark)
	_, err := w.Write(t[:])
	return err
}

// parseHeader checks the fixed header against the file size and returns it.
// b holds at least the first min(size, 64+2*maxIDLen) bytes.
func parseHeader(b []byte, fileSize int64) (*header, error) {
	if fileSize < headerSize+fanoutSize+trailerSize || len(b) < headerSize {
		return nil, fmt.Errorf("%w: %d bytes is shorter than an empty index", ErrCorrupt, fileSize)
	}
	if string(b[0:8]) != magic {
		return nil, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	le := binary.LittleEndian
	h := &header{
		version:    le.Uint32(b[8:]),
		kind:       Kind(le.Uint32(b[12:])),
		n:          le.Uint64(b[16:]),
		stringsLen: le.Uint64(b[24:]),
		idLen:      le.Uint32(b[32:]),
		fpLen:      le.Uint32(b[36:]),
		size:       le.Uint64(b[40:]),
		blocks:     le.Uint64(b[48:]),
	}
	if h.version != Version {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrVersion, h.version, Version)
	}
	if h.size != uint64(fileSize) {
		return nil, fmt.Errorf("%w: header says %d bytes, file has %d (truncated?)", ErrCorrupt, h.size, fileSize)
	}
	if h.idLen > maxIDLen || h.fpLen > maxIDLen || h.stringsLen > maxStrings ||
		h.n > uint64(fileSize)/recordSize || h.blocks > uint64(fileSize)/blockSize {
		return nil, fmt.Errorf("%w: impossible section sizes", ErrCorrupt)
	}
	if h.blocks != bloomBlocks(h.n) {
		return nil, fmt.Errorf("%w: %d Bloom blocks for %d records", ErrCorrupt, h.blocks, h.n)
	}
	meta := uint64(headerSize) + uint64(h.idLen) + uint64(h.fpLen)
	h.bloomAt = align64(meta)
	h.recordsAt = h.bloomAt + h.blocks*blockSize + fanoutSize
	h.stringsAt = h.recordsAt + h.n*recordSize
	if h.stringsAt+h.stringsLen+trailerSize != h.size {
		return nil, fmt.Errorf("%w: sections do not add up to the file size", ErrCorrupt)
	}
	if uint64(len(b)) < meta {
		return nil, fmt.Errorf("%w: short header read", ErrCorrupt)
	}
	h.layerID = string(b[headerSize : headerSize+h.idLen])
	h.fingerprint = string(b[headerSize+h.idLen : meta])
	switch h.kind {
	case KindTOC, KindTOCFlat, KindFiles:
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", ErrCorrupt, h.kind)
	}
	return h, nil
}

// verify reads f through (not via the mapping, so the pages do not count
// against our resident size) and checks the header, the trailer and the
// checksum. buf is scratch space of at least 64 KiB.
func verify(f *os.File, size int64, buf []byte) (*header, error) {
	n, err := f.ReadAt(buf[:min(int64(len(buf)), size)], 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	h, err := parseHeader(buf[:n], size)
	if err != nil {
		return nil, err
	}
	crc := uint32(0)
	body := size - trailerSize
	for off := int64(0); off < body; {
		m := min(int64(len(buf)), body-off)
		if _, err := f.ReadAt(buf[:m], off); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		crc = crc32.Update(crc, castagnoli, buf[:m])
		off += m
	}
	var t [trailerSize]byte
	if _, err := f.ReadAt(t[:], body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if !bytes.Equal(t[4:], []byte(trailerMark)) {
		return nil, fmt.Errorf("%w: bad trailer", ErrCorrupt)
	}
	if got := binary.LittleEndian.Uint32(t[:4]); got != crc {
		return nil, fmt.Errorf("%w: checksum %08x, computed %08x", ErrCorrupt, got, crc)
	}
	return h, nil
}

// bufWriter batches small writes and keeps the first error.
type bufWriter struct {
	w   io.Writer
	buf []byte
	err error
}

func newBufWriter(w io.Writer) *bufWriter {
	return &bufWriter{w: w, buf: make([]byte, 0, 256<<10)}
}

func (b *bufWriter) write(p []byte) {
	if b.err != nil {
		return
	}
	if len(b.buf)+len(p) > cap(b.buf) {
		b.err = b.flush()
		if len(p) > cap(b.buf) {
			if b.err == nil {
				_, b.err = b.w.Write(p)
			}
			return
		}
	}
	b.buf = append(b.buf, p...)
}

func (b *bufWriter) flush() error {
	if b.err != nil {
		return b.err
	}
	if len(b.buf) > 0 {
		_, b.err = b.w.Write(b.buf)
		b.buf = b.buf[:0]
	}
	return b.err
}
