// Package layout turns a TOC into what applying a layer needs: every
// non-chunk entry in order, and for each regular file its payload chunks with
// their compressed byte ranges (FORMATS.md "chunk-ranges"). It is shared by zstd:chunked
// and eStargz; it reads no bytes of the blob.
//
// The items are not kept in memory: Build writes one compact record per item
// to an unlinked temp file, in TOC order, and consumers read them back in
// order (Scanner) or, knowing a record's offset, one at a time (ReadAt). So
// the layout costs a constant amount of memory whatever the entry count.
package layout

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/spool"
	"github.com/opencontainers/go-digest"
)

// Chunk is one piece of a regular file's payload.
type Chunk struct {
	// Offset and End delimit the compressed bytes in the blob. The range may
	// include trailing frames (the next entry's headers); decoders stop after
	// Size bytes.
	Offset, End int64
	// FileOffset is where the chunk's bytes go in the file.
	FileOffset int64
	Size       int64
	// Digest of the chunk's uncompressed bytes; "" when the format gives
	// none (single-chunk zstd:chunked files: the file digest covers it).
	Digest digest.Digest
	// Zeros: a run of zero bytes, written as a hole, never fetched.
	Zeros bool
}

// Item is one non-chunk TOC entry; regular files with content carry their
// chunks.
type Item struct {
	Entry  toc.Entry
	Chunks []Chunk
}

// Options describe the blob the TOC belongs to, for Build.
type Options struct {
	// DataEnd is where the data section ends: the zstd:chunked TOC data
	// offset, or the eStargz TOC member offset. No payload lies beyond it.
	DataEnd int64
	// TempDir holds the layout's temp file (os.TempDir() if empty).
	TempDir string
}

// Layout is the items Build found, spooled to an unlinked temp file. Its
// methods may be called concurrently; Close releases the file.
type Layout struct {
	f     *os.File
	size  int64 // bytes of records
	n     int   // items
	files int   // items with chunks
}

// Len is the number of items.
func (l *Layout) Len() int { return l.n }

// Files is the number of items with chunks (regular files with content).
func (l *Layout) Files() int { return l.files }

// Close releases the temp file.
func (l *Layout) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Build reads every entry of dec and spools the items in TOC order. The
// differ does not use it: a format's Load hands entries to a Builder during
// its one decoding pass.
func Build(dec *toc.Decoder, opts Options) (*Layout, error) {
	b, err := NewBuilder(opts.TempDir)
	if err != nil {
		return nil, err
	}
	defer func() { _ = b.Close() }()
	for {
		e, err := dec.Next()
		if errors.Is(err, io.EOF) {
			return b.Finish(opts.DataEnd)
		}
		if err != nil {
			return nil, err
		}
		if err := b.Add(e); err != nil {
			return nil, err
		}
	}
}

// Builder spools the items of entries added in TOC order (it is a
// toc.Sink); Finish turns them into a Layout.
//
// Ranges follow upstream's derivation (each chunk ends where the next one
// starts; a group's end comes from its last element, or else from the next
// entry with a payload), with one refinement: when a multi-chunk file's reg
// entry carries endOffset (the zstd:chunked writer always sets it), the last
// chunk ends there instead of at the next file's payload, so the next file's
// header frames are not fetched with it.
//
// A file's last chunk may end at the next file's payload, which is read
// later: its record is written with the end left open and patched once the
// next file (or the end of the TOC) is seen. So at most one file's chunks
// are in memory at a time.
type Builder struct {
	f       *os.File
	b       builder
	entries int   // entries added
	prevOff int64 // the last payload offset: payloads ascend
	// The entry whose payload reaches furthest: checked against the data
	// section's end, known only to Finish (eStargz finds it in the blob).
	maxEnd   int64
	maxEntry int
	maxName  string
	err      error // sticky: the first error of Add
}

// NewBuilder opens the layout's temp file in tempDir (os.TempDir() if
// empty).
func NewBuilder(tempDir string) (*Builder, error) {
	f, err := spool.Open(tempDir)
	if err != nil {
		return nil, fmt.Errorf("layout: %w", err)
	}
	return &Builder{f: f, b: builder{w: recordWriter{f: f}}}, nil
}

// TempSpace bounds the temp file for a TOC of tocSize bytes: a record is
// smaller than the JSON of the entries it comes from.
func (*Builder) TempSpace(tocSize uint64) uint64 { return tocSize }

// Add takes the next entry. Errors are sticky.
func (lb *Builder) Add(e *toc.Entry) error {
	if lb.err == nil {
		lb.err = lb.add(e)
	}
	return lb.err
}

func (lb *Builder) add(ep *toc.Entry) error {
	n := lb.entries
	lb.entries++
	e := *ep
	if e.Offset < 0 || e.EndOffset < 0 {
		return fmt.Errorf("layout: entry %d (%q): negative payload offsets %d..%d", n, e.Name, e.Offset, e.EndOffset)
	}
	if end := max(e.Offset, e.EndOffset); end > lb.maxEnd {
		lb.maxEnd, lb.maxEntry, lb.maxName = end, n, e.Name
	}
	if e.Offset != 0 {
		// Ranges are derived from neighbours, so payloads must ascend.
		if e.Offset < lb.prevOff {
			return fmt.Errorf("layout: entry %d (%q): offset %d is before the previous payload at %d", n, e.Name, e.Offset, lb.prevOff)
		}
		lb.prevOff = e.Offset
	}
	return lb.b.add(n, &e)
}

// Finish resolves the last file's range against dataEnd, where the data
// section ends (the zstd:chunked TOC data offset, or the eStargz TOC member
// offset), and returns the layout, which then owns the temp file.
func (lb *Builder) Finish(dataEnd int64) (*Layout, error) {
	switch {
	case lb.err != nil:
		return nil, lb.err
	case lb.f == nil:
		return nil, errors.New("layout: builder is closed")
	case dataEnd <= 0:
		return nil, fmt.Errorf("layout: data section end %d is invalid", dataEnd)
	case lb.maxEnd > dataEnd:
		return nil, fmt.Errorf("layout: entry %d (%q): payload reaches %d, outside the data section [0, %d]",
			lb.maxEntry, lb.maxName, lb.maxEnd, dataEnd)
	}
	b := &lb.b
	if err := b.flush(); err != nil {
		return nil, err
	}
	if err := b.resolve(dataEnd); err != nil {
		return nil, err
	}
	if err := b.w.flush(); err != nil {
		return nil, err
	}
	l := &Layout{f: lb.f, size: b.w.pos(), n: b.n, files: b.files}
	lb.f = nil
	return l, nil
}

// Close releases the temp file unless Finish handed it to a Layout.
func (lb *Builder) Close() error {
	if lb.f == nil {
		return nil
	}
	err := lb.f.Close()
	lb.f = nil
	return err
}

// builder holds the one item being assembled and the one file whose last
// chunk's end is still open.
type builder struct {
	w         recordWriter
	n         int // items written
	enc       []byte
	lastEndAt int64 // set by write: where the last chunk's End went
	files     int   // items with chunks written

	cur      Item  // the item being assembled (its chunk entries may follow)
	curEnd   int64 // explicit end of cur's payload, or 0
	hasCur   bool
	curChunk bool // cur is a regular file with chunks: chunk entries may follow

	pend pending // the written file whose last chunk's end is open
}

// pending is what finishing a file's last chunk needs.
type pending struct {
	set      bool
	at       int64 // file offset of the last chunk's End field
	name     string
	chunk    int   // index of the last chunk
	offset   int64 // the last chunk's Offset
	groupEnd int64 // explicit end, or 0: the next payload decides
	regEnd   int64 // the reg entry's endOffset (the refinement)
	multi    bool
}

// add assembles entry n (validated by Builder.add) into the items.
func (b *builder) add(n int, e *toc.Entry) error {
	switch {
	case e.Type == toc.TypeChunk:
		if !b.hasCur || !b.curChunk || b.cur.Entry.Name != e.Name {
			return fmt.Errorf("layout: entry %d: chunk of %q does not follow its regular file", n, e.Name)
		}
		if e.Offset == 0 {
			return fmt.Errorf("layout: entry %d: chunk of %q has no offset", n, e.Name)
		}
		b.cur.Chunks = append(b.cur.Chunks, chunkOf(e))
		b.curEnd = e.EndOffset // chunk entries carry none: the last element decides
	case e.Type == toc.TypeReg && e.Size > 0:
		if e.Offset == 0 {
			return fmt.Errorf("layout: entry %d: regular file %q of %d bytes has no payload offset", n, e.Name, e.Size)
		}
		if err := b.flush(); err != nil {
			return err
		}
		b.cur = Item{Entry: *e, Chunks: append(b.cur.Chunks[:0], chunkOf(e))}
		b.curEnd, b.hasCur, b.curChunk = e.EndOffset, true, true
	default:
		if err := b.flush(); err != nil {
			return err
		}
		b.cur = Item{Entry: *e, Chunks: b.cur.Chunks[:0]}
		b.curEnd, b.hasCur, b.curChunk = 0, true, false
	}
	return nil
}

// flush writes the item being assembled. For a file with chunks, the
// previous file's last chunk ends at the latest where this one starts.
func (b *builder) flush() error {
	if !b.hasCur {
		return nil
	}
	b.hasCur = false
	it := &b.cur
	if len(it.Chunks) == 0 {
		return b.write(it, -1)
	}
	if err := b.resolve(it.Chunks[0].Offset); err != nil {
		return err
	}
	// Every chunk but the last ends where the next one starts; the last
	// one's end is resolved later (pending), its size and file offset now.
	var used int64
	last := len(it.Chunks) - 1
	for j := range it.Chunks {
		c := &it.Chunks[j]
		if j < last {
			c.End = it.Chunks[j+1].Offset
			if c.End < c.Offset {
				return fmt.Errorf("layout: %q chunk %d: range %d..%d ends before it starts", it.Entry.Name, j, c.Offset, c.End)
			}
		}
		if c.Size <= 0 {
			c.Size = it.Entry.Size - used // "the rest of the file"
		}
		if c.FileOffset != used {
			if j == 0 && c.FileOffset == 0 {
				// fine: the reg entry describes chunk 0
			} else {
				return fmt.Errorf("layout: %q chunk %d starts at file offset %d, expected %d", it.Entry.Name, j, c.FileOffset, used)
			}
		}
		c.FileOffset = used
		used += c.Size
		if c.Size <= 0 || used > it.Entry.Size {
			return fmt.Errorf("layout: %q: chunk sizes exceed the file size %d", it.Entry.Name, it.Entry.Size)
		}
	}
	if used != it.Entry.Size {
		return fmt.Errorf("layout: %q: chunks cover %d of %d bytes", it.Entry.Name, used, it.Entry.Size)
	}
	if err := b.write(it, last); err != nil {
		return err
	}
	b.files++
	b.pend = pending{set: true, at: b.lastEndAt, name: it.Entry.Name, chunk: last, offset: it.Chunks[last].Offset,
		groupEnd: b.curEnd, regEnd: it.Entry.EndOffset, multi: len(it.Chunks) > 1}
	return nil
}

// resolve finishes the pending file's last chunk, given where the next
// payload starts (or the data section's end).
func (b *builder) resolve(next int64) error {
	p := &b.pend
	if !p.set {
		return nil
	}
	p.set = false
	end := p.groupEnd
	if end == 0 {
		end = next
	}
	// The refinement: a multi-chunk file's reg entry knows where its
	// payload ends, which may be well before the next file's payload.
	if p.multi && p.regEnd > p.offset && p.regEnd < end {
		end = p.regEnd
	}
	if end < p.offset {
		return fmt.Errorf("layout: %q chunk %d: range %d..%d ends before it starts", p.name, p.chunk, p.offset, end)
	}
	return b.w.patch(p.at, uint64(end))
}

func chunkOf(e *toc.Entry) Chunk {
	return Chunk{
		Offset:     e.Offset,
		FileOffset: e.ChunkOffset,
		Size:       e.ChunkSize,
		Digest:     e.ChunkDigest,
		Zeros:      e.ChunkType == toc.ChunkTypeZeros,
	}
}
