// Package offsets is an append-only list of int64 values (record offsets,
// indices) that keeps a constant number of them in memory whatever its
// length: values are appended to a buffer, a full buffer is written to an
// unlinked temp file, and reads go through a small cache of pages read back
// from it. Up to BufferValues values never touch the disk, so a short list
// costs only its values.
//
// Memory: at most BufferValues × 8 bytes (64 KiB) of append buffer and as
// much to encode it, plus cachePages pages of PageValues × 8 bytes (4 × 32
// KiB) of read cache and one page to decode: 288 KiB once spilled.
// Disk: 8 bytes per value beyond the first buffer.
//
// Append, Close and anything run concurrently with them must be called from
// one goroutine. Once the appends are done, Len and At may be called from
// any number of goroutines at once.
package offsets

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"

	"github.com/chunkdiff/chunkdiff/internal/spool"
)

// BufferValues is how many values are kept in memory before they are
// written to the temp file.
const BufferValues = 8 << 10

// PageValues is how many values a cached read page holds.
const PageValues = 4 << 10

// cachePages bounds the pages kept: readers go mostly in ascending order
// (a planner, and workers a window behind it), so a few pages serve them.
const cachePages = 4

// BufferValues is a multiple of PageValues, so a page never straddles the
// spilled part and the buffer.
var _ [BufferValues % PageValues]struct{} = [0]struct{}{}

const width = 8

// List is an append-only list of int64; the zero value is not usable, see
// New.
type List struct {
	dir     string
	buf     []int64 // the values from spilled on, not yet on disk
	spilled int     // values in f
	f       *os.File
	wbuf    []byte // encoding buffer for spills

	mu    sync.Mutex
	pages [cachePages]page
	tick  uint64 // for least-recently-used eviction
	rbuf  []byte // decoding buffer for page reads
}

// page is values [first, first+len(v)) of the spilled part.
type page struct {
	first int
	v     []int64
	used  uint64 // tick of the last use; 0: empty
}

// New returns an empty list spilling to tempDir (os.TempDir() if empty).
func New(tempDir string) *List { return &List{dir: tempDir} }

// Len is the number of values appended.
func (l *List) Len() int { return l.spilled + len(l.buf) }

// Append adds v at index Len(). On error v is not added.
func (l *List) Append(v int64) error {
	if len(l.buf) == BufferValues {
		if err := l.spill(); err != nil {
			return err
		}
	}
	l.buf = append(l.buf, v)
	return nil
}

func (l *List) spill() error {
	if l.f == nil {
		f, err := spool.Open(l.dir)
		if err != nil {
			return fmt.Errorf("offsets: %w", err)
		}
		l.f = f
	}
	if l.wbuf == nil {
		l.wbuf = make([]byte, BufferValues*width)
	}
	b := l.wbuf[:len(l.buf)*width]
	for i, v := range l.buf {
		binary.LittleEndian.PutUint64(b[i*width:], uint64(v))
	}
	if _, err := l.f.WriteAt(b, int64(l.spilled)*width); err != nil {
		return fmt.Errorf("offsets: writing to the temp file: %w", err)
	}
	l.spilled += len(l.buf)
	l.buf = l.buf[:0]
	return nil
}

// At returns value i (0 ≤ i < Len()). Values on disk are read back a page
// at a time; a read error is returned, not cached.
func (l *List) At(i int) (int64, error) {
	if i < 0 || i >= l.Len() {
		return 0, fmt.Errorf("offsets: index %d out of range [0, %d)", i, l.Len())
	}
	if i >= l.spilled {
		return l.buf[i-l.spilled], nil
	}
	first := i - i%PageValues
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tick++
	victim := &l.pages[0]
	for k := range l.pages {
		p := &l.pages[k]
		if p.used != 0 && p.first == first {
			p.used = l.tick
			return p.v[i-first], nil
		}
		if p.used < victim.used {
			victim = p
		}
	}
	if err := l.read(victim, first); err != nil {
		return 0, err
	}
	victim.used = l.tick
	return victim.v[i-first], nil
}

// read fills p with the page starting at value first.
func (l *List) read(p *page, first int) error {
	p.used = 0 // empty until the read succeeds
	if l.f == nil {
		return fmt.Errorf("offsets: value %d: the list is closed", first)
	}
	n := min(PageValues, l.spilled-first)
	if l.rbuf == nil {
		l.rbuf = make([]byte, PageValues*width)
	}
	b := l.rbuf[:n*width]
	if _, err := l.f.ReadAt(b, int64(first)*width); err != nil {
		return fmt.Errorf("offsets: reading values %d-%d back: %w", first, first+n-1, err)
	}
	if cap(p.v) < n {
		p.v = make([]int64, n)
	}
	p.v = p.v[:n]
	for k := range p.v {
		p.v[k] = int64(binary.LittleEndian.Uint64(b[k*width:])) //nolint:gosec // written from an int64
	}
	p.first = first
	return nil
}

// Close releases the temp file and the memory; the list is empty after.
func (l *List) Close() error {
	if l == nil {
		return nil
	}
	l.buf, l.spilled, l.wbuf = nil, 0, nil
	l.mu.Lock()
	l.pages, l.rbuf = [cachePages]page{}, nil
	l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
