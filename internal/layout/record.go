package layout

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/opencontainers/go-digest"
)

// A record is a 4-byte little-endian payload length and the payload: the
// entry's fields (varints, length-prefixed strings, times in their binary
// form) and its chunks. A chunk's End is 8 fixed bytes so that the last
// chunk's can be patched in place.

// recordWriter buffers records; patch rewrites 8 bytes already written,
// in the buffer or in the file.
type recordWriter struct {
	f    *os.File
	buf  []byte
	base int64 // file offset of buf[0]
}

const writeBuffer = 64 << 10

func (w *recordWriter) pos() int64 { return w.base + int64(len(w.buf)) }

func (w *recordWriter) write(p []byte) error {
	w.buf = append(w.buf, p...)
	if len(w.buf) >= writeBuffer {
		return w.flush()
	}
	return nil
}

func (w *recordWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if _, err := w.f.WriteAt(w.buf, w.base); err != nil {
		return fmt.Errorf("layout: writing the temp file: %w", err)
	}
	w.base += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

// patch sets the 8 bytes at off (written by one earlier write, so wholly
// in the buffer or wholly in the file) to v.
func (w *recordWriter) patch(off int64, v uint64) error {
	if off >= w.base {
		binary.LittleEndian.PutUint64(w.buf[off-w.base:], v)
		return nil
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	if _, err := w.f.WriteAt(b[:], off); err != nil {
		return fmt.Errorf("layout: writing the temp file: %w", err)
	}
	return nil
}

// write encodes it as the next record; with last ≥ 0, lastEndAt is left
// at the file offset of chunk last's End.
func (b *builder) write(it *Item, last int) error {
	start := b.w.pos()
	enc := append(b.enc[:0], 0, 0, 0, 0)
	enc, err := appendEntry(enc, &it.Entry)
	if err != nil {
		return fmt.Errorf("layout: %q: %w", it.Entry.Name, err)
	}
	enc = binary.AppendUvarint(enc, uint64(len(it.Chunks)))
	for j := range it.Chunks {
		c := &it.Chunks[j]
		enc = binary.AppendVarint(enc, c.Offset)
		if j == last {
			b.lastEndAt = start + int64(len(enc))
		}
		enc = binary.LittleEndian.AppendUint64(enc, uint64(c.End))
		enc = binary.AppendVarint(enc, c.FileOffset)
		enc = binary.AppendVarint(enc, c.Size)
		enc = appendString(enc, string(c.Digest))
		enc = appendBool(enc, c.Zeros)
	}
	if len(enc)-4 > maxRecord {
		return fmt.Errorf("layout: %q: the entry's record has %d bytes, over %d", it.Entry.Name, len(enc)-4, maxRecord)
	}
	binary.LittleEndian.PutUint32(enc, uint32(len(enc)-4))
	b.enc = enc
	b.n++
	return b.w.write(enc)
}

// maxRecord bounds one record (the TOC's own limits keep entries far
// smaller).
const maxRecord = 1 << 30

// Type strings by code; 0 is "spelled out".
var typeCodes = []string{"", toc.TypeReg, toc.TypeDir, toc.TypeSymlink, toc.TypeHardlink, toc.TypeChar, toc.TypeBlock, toc.TypeFifo, toc.TypeChunk}

func appendEntry(b []byte, e *toc.Entry) ([]byte, error) {
	code := 0
	for i := 1; i < len(typeCodes); i++ {
		if e.Type == typeCodes[i] {
			code = i
			break
		}
	}
	b = append(b, byte(code))
	if code == 0 {
		b = appendString(b, e.Type)
	}
	b = appendString(b, e.Name)
	b = appendString(b, e.LinkName)
	for _, v := range []int64{e.Mode, e.Size, int64(e.UID), int64(e.GID), e.DevMajor, e.DevMinor,
		e.Offset, e.EndOffset, e.ChunkSize, e.ChunkOffset, e.InnerOffset} {
		b = binary.AppendVarint(b, v)
	}
	for _, t := range []time.Time{e.ModTime, e.AccessTime, e.ChangeTime} {
		if t.IsZero() {
			b = append(b, 0)
			continue
		}
		tb, err := t.MarshalBinary()
		if err != nil {
			return nil, err
		}
		b = appendString(append(b, 1), string(tb))
	}
	b = binary.AppendUvarint(b, uint64(len(e.Xattrs)))
	for k, v := range e.Xattrs {
		b = appendString(appendString(b, k), v)
	}
	b = appendString(b, string(e.Digest))
	b = appendString(b, string(e.ChunkDigest))
	b = appendString(b, e.ChunkType)
	return b, nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// errCorrupt: the temp file does not hold what was written (it is ours and
// unlinked, so only a storage fault gets here).
var errCorrupt = errors.New("layout: corrupt record in the temp file")

// decoder reads fields from one record's payload.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.err = errCorrupt
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) fixed64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.err = errCorrupt
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errCorrupt
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	b := d.bytes()
	if len(b) == 0 {
		return ""
	}
	return string(b)
}

func (d *decoder) time() time.Time {
	if d.byte() == 0 {
		return time.Time{}
	}
	var t time.Time
	if err := t.UnmarshalBinary(d.bytes()); err != nil && d.err == nil {
		d.err = errCorrupt
	}
	return t
}

// decodeItem fills it from payload, reusing its chunk slice.
func decodeItem(payload []byte, it *Item) error {
	d := decoder{b: payload}
	e := &it.Entry
	*e = toc.Entry{}
	code := int(d.byte())
	switch {
	case code == 0:
		e.Type = d.string()
	case code < len(typeCodes):
		e.Type = typeCodes[code]
	default:
		return errCorrupt
	}
	e.Name = d.string()
	e.LinkName = d.string()
	e.Mode, e.Size = d.varint(), d.varint()
	e.UID, e.GID = int(d.varint()), int(d.varint())
	e.DevMajor, e.DevMinor = d.varint(), d.varint()
	e.Offset, e.EndOffset, e.ChunkSize, e.ChunkOffset, e.InnerOffset = d.varint(), d.varint(), d.varint(), d.varint(), d.varint()
	e.ModTime, e.AccessTime, e.ChangeTime = d.time(), d.time(), d.time()
	if nx := d.uvarint(); nx > 0 && d.err == nil {
		if nx > uint64(len(d.b)) {
			return errCorrupt
		}
		e.Xattrs = make(map[string]string, nx)
		for range nx {
			k := d.string()
			e.Xattrs[k] = d.string()
		}
	}
	e.Digest = digest.Digest(d.string())
	e.ChunkDigest = digest.Digest(d.string())
	e.ChunkType = d.string()
	nc := d.uvarint()
	if d.err != nil || nc > uint64(len(d.b)) {
		return errCorrupt
	}
	it.Chunks = it.Chunks[:0]
	for range nc {
		var c Chunk
		c.Offset = d.varint()
		c.End = int64(d.fixed64())
		c.FileOffset, c.Size = d.varint(), d.varint()
		c.Digest = digest.Digest(d.string())
		c.Zeros = d.byte() != 0
		it.Chunks = append(it.Chunks, c)
	}
	if d.err != nil || len(d.b) != 0 {
		return errCorrupt
	}
	if nc == 0 {
		it.Chunks = nil
	}
	return nil
}

// Scanner reads a layout's items in order.
type Scanner struct {
	r    *bufio.Reader
	off  int64 // offset of the next record
	at   int64 // offset of the current record
	left int   // items not yet read
	buf  []byte
	item Item
	err  error
}

// Scan starts reading l's items from the first.
func (l *Layout) Scan() *Scanner {
	return &Scanner{r: bufio.NewReaderSize(io.NewSectionReader(l.f, 0, l.size), 64<<10), left: l.n}
}

// Next reads the next item; false at the end or on error (see Err).
func (s *Scanner) Next() bool {
	if s.err != nil || s.left == 0 {
		return false
	}
	s.at = s.off
	n, err := s.readRecord()
	if err != nil {
		s.err = err
		return false
	}
	s.off += int64(4 + n)
	s.left--
	if err := decodeItem(s.buf, &s.item); err != nil {
		s.err = err
		return false
	}
	return true
}

func (s *Scanner) readRecord() (int, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(s.r, hdr[:]); err != nil {
		return 0, fmt.Errorf("layout: reading the temp file: %w", err)
	}
	n := int(binary.LittleEndian.Uint32(hdr[:]))
	if n > maxRecord {
		return 0, errCorrupt
	}
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	s.buf = s.buf[:n]
	if _, err := io.ReadFull(s.r, s.buf); err != nil {
		return 0, fmt.Errorf("layout: reading the temp file: %w", err)
	}
	return n, nil
}

// Item is the current item. It and its chunks are overwritten by the next
// call to Next; strings in it may be kept.
func (s *Scanner) Item() *Item { return &s.item }

// Offset is the current item's record offset, for ReadAt.
func (s *Scanner) Offset() int64 { return s.at }

// Err is the error that ended the scan, nil at the end.
func (s *Scanner) Err() error { return s.err }

// ReadAt reads the item whose record is at off (from Scanner.Offset).
func (l *Layout) ReadAt(off int64) (Item, error) {
	var it Item
	var guess [512]byte
	n, err := l.f.ReadAt(guess[:], off)
	if n < 4 {
		if err == nil || errors.Is(err, io.EOF) {
			err = errCorrupt
		}
		return it, fmt.Errorf("layout: reading the temp file: %w", err)
	}
	size := int(binary.LittleEndian.Uint32(guess[:4]))
	if size > maxRecord || off+4+int64(size) > l.size {
		return it, errCorrupt
	}
	payload := guess[4:n]
	if size <= len(payload) {
		payload = payload[:size]
	} else {
		payload = make([]byte, size)
		if _, err := l.f.ReadAt(payload, off+4); err != nil {
			return it, fmt.Errorf("layout: reading the temp file: %w", err)
		}
	}
	if err := decodeItem(payload, &it); err != nil {
		return it, err
	}
	return it, nil
}
