// Package keyset finds a repeated key among a stream of fixed-size keys
// (name hashes) with memory bounded by a constant, whatever the count: keys
// are buffered, a full buffer is sorted and written to an unlinked temp file
// as a run, and Repeated merges the runs. Up to BufferKeys keys never touch
// the disk.
//
// Memory: BufferKeys × 16 bytes (1 MiB) while adding, plus a 16 KiB read
// buffer per run while merging (a run per BufferKeys keys: 256 KiB for a
// million keys). Disk: 16 bytes per key beyond the first buffer.
package keyset

import (
	"bufio"
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/chunkdiff/chunkdiff/internal/spool"
)

// Key is a 16-byte key, e.g. 128 bits of a name's SHA-256.
type Key [16]byte

// BufferKeys is how many keys are kept in memory before a run is spilled.
const BufferKeys = 64 << 10

const runReadBuffer = 16 << 10

// Set collects keys; the zero value is not usable, see New.
type Set struct {
	dir  string
	buf  []Key
	f    *os.File // the runs, back to back; nil until the first spill
	runs []int64  // key count of each run, in file order
	size int64    // bytes written to f
}

// New returns an empty set spilling to tempDir (os.TempDir() if empty).
func New(tempDir string) *Set { return &Set{dir: tempDir} }

// Add adds k.
func (s *Set) Add(k Key) error {
	s.buf = append(s.buf, k)
	if len(s.buf) >= BufferKeys {
		return s.spill()
	}
	return nil
}

func (s *Set) spill() error {
	if len(s.buf) == 0 {
		return nil
	}
	if s.f == nil {
		f, err := spool.Open(s.dir)
		if err != nil {
			return fmt.Errorf("keyset: %w", err)
		}
		s.f = f
	}
	sortKeys(s.buf)
	b := make([]byte, 0, len(s.buf)*len(Key{}))
	for i := range s.buf {
		b = append(b, s.buf[i][:]...)
	}
	if _, err := s.f.WriteAt(b, s.size); err != nil {
		return fmt.Errorf("keyset: writing a run: %w", err)
	}
	s.size += int64(len(b))
	s.runs = append(s.runs, int64(len(s.buf)))
	s.buf = s.buf[:0]
	return nil
}

func sortKeys(ks []Key) {
	slices.SortFunc(ks, func(a, b Key) int { return bytes.Compare(a[:], b[:]) })
}

// Repeated reports a key added more than once (the smallest such key), if
// any. It is to be called once, after the last Add.
func (s *Set) Repeated() (Key, bool, error) {
	if s.f == nil {
		sortKeys(s.buf)
		for i := 1; i < len(s.buf); i++ {
			if s.buf[i] == s.buf[i-1] {
				return s.buf[i], true, nil
			}
		}
		return Key{}, false, nil
	}
	if err := s.spill(); err != nil {
		return Key{}, false, err
	}
	s.buf = nil
	h := make(runHeap, 0, len(s.runs))
	var off int64
	for _, n := range s.runs {
		r := &run{r: bufio.NewReaderSize(io.NewSectionReader(s.f, off, n*int64(len(Key{}))), runReadBuffer)}
		off += n * int64(len(Key{}))
		if err := r.next(); err != nil {
			return Key{}, false, err
		}
		h = append(h, r)
	}
	heap.Init(&h)
	var prev Key
	first := true
	for len(h) > 0 {
		r := h[0]
		if !first && r.key == prev {
			return prev, true, nil
		}
		prev, first = r.key, false
		switch err := r.next(); {
		case errors.Is(err, io.EOF):
			heap.Pop(&h)
		case err != nil:
			return Key{}, false, err
		default:
			heap.Fix(&h, 0)
		}
	}
	return Key{}, false, nil
}

// Close releases the temp file.
func (s *Set) Close() error {
	s.buf = nil
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// run is one sorted run being merged: its reader and its current key.
type run struct {
	r   *bufio.Reader
	key Key
}

func (r *run) next() error {
	if _, err := io.ReadFull(r.r, r.key[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return fmt.Errorf("keyset: reading a run back: %w", err)
	}
	return nil
}

type runHeap []*run

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return bytes.Compare(h[i].key[:], h[j].key[:]) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*run)) }
func (h *runHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	*h = old[:len(old)-1]
	return r
}
