package keyset

import (
	"bufio"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/chunkdiff/chunkdiff/internal/spool"
)

// Sorter sorts a stream of fixed-size records with memory bounded by a
// constant, whatever the count: records are buffered, a full buffer is
// sorted and written to an unlinked temp file as a run, and Merge reads the
// runs back merged. A sorter that never fills its buffer never touches the
// disk.
//
// Memory: the buffer (bufferRecords records) while adding, plus a 16 KiB
// read buffer per run while merging. Disk: the record size per record
// beyond the first buffer.
type Sorter[R any] struct {
	dir     string
	max     int
	cmp     func(a, b R) int
	bytesOf func(*R) []byte
	buf     []R
	f       *os.File // the runs, back to back; nil until the first spill
	runs    []int64  // record count of each run, in file order
	size    int64    // bytes written to f
}

// NewSorter returns an empty sorter spilling to tempDir (os.TempDir() if
// empty) every bufferRecords records. cmp orders records; bytesOf gives a
// record's bytes, written to and read back from the runs as they are (the
// same length for every record).
func NewSorter[R any](tempDir string, bufferRecords int, cmp func(a, b R) int, bytesOf func(*R) []byte) *Sorter[R] {
	return &Sorter[R]{dir: tempDir, max: max(bufferRecords, 1), cmp: cmp, bytesOf: bytesOf}
}

// Add adds r.
func (s *Sorter[R]) Add(r R) error {
	s.buf = append(s.buf, r)
	if len(s.buf) >= s.max {
		return s.spill()
	}
	return nil
}

// Spilled reports whether runs were written to disk.
func (s *Sorter[R]) Spilled() bool { return s.f != nil }

func (s *Sorter[R]) spill() error {
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
	slices.SortFunc(s.buf, s.cmp)
	w := bufio.NewWriterSize(io.NewOffsetWriter(s.f, s.size), runReadBuffer)
	var n int64
	for i := range s.buf {
		b := s.bytesOf(&s.buf[i])
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("keyset: writing a run: %w", err)
		}
		n += int64(len(b))
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("keyset: writing a run: %w", err)
	}
	s.size += n
	s.runs = append(s.runs, int64(len(s.buf)))
	s.buf = s.buf[:0]
	return nil
}

// Merge returns the records added so far in order (records comparing
// equal in any order). It is to be called once, after the last Add; the
// merge reads from the sorter's temp file, so it is valid until Close.
func (s *Sorter[R]) Merge() (*Merge[R], error) {
	if s.f == nil {
		slices.SortFunc(s.buf, s.cmp)
		return &Merge[R]{mem: s.buf}, nil
	}
	if err := s.spill(); err != nil {
		return nil, err
	}
	s.buf = nil
	var zero R
	size := int64(len(s.bytesOf(&zero)))
	m := &Merge[R]{h: runHeap[R]{cmp: s.cmp}}
	var off int64
	for _, n := range s.runs {
		r := &run[R]{r: bufio.NewReaderSize(io.NewSectionReader(s.f, off, n*size), runReadBuffer)}
		off += n * size
		if err := r.next(s.bytesOf); err != nil {
			return nil, err
		}
		m.h.runs = append(m.h.runs, r)
	}
	heap.Init(&m.h)
	m.bytesOf = s.bytesOf
	return m, nil
}

// Close releases the temp file.
func (s *Sorter[R]) Close() error {
	s.buf = nil
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// Merge yields a sorter's records in order.
type Merge[R any] struct {
	mem     []R // the records, when nothing was spilled
	h       runHeap[R]
	bytesOf func(*R) []byte
}

// Next returns the next record, false after the last.
func (m *Merge[R]) Next() (R, bool, error) {
	var zero R
	if m.bytesOf == nil {
		if len(m.mem) == 0 {
			return zero, false, nil
		}
		r := m.mem[0]
		m.mem = m.mem[1:]
		return r, true, nil
	}
	if len(m.h.runs) == 0 {
		return zero, false, nil
	}
	r := m.h.runs[0]
	rec := r.rec
	switch err := r.next(m.bytesOf); {
	case errors.Is(err, io.EOF):
		heap.Pop(&m.h)
	case err != nil:
		return zero, false, err
	default:
		heap.Fix(&m.h, 0)
	}
	return rec, true, nil
}

// run is one sorted run being merged: its reader and its current record.
type run[R any] struct {
	r   *bufio.Reader
	rec R
}

func (r *run[R]) next(bytesOf func(*R) []byte) error {
	if _, err := io.ReadFull(r.r, bytesOf(&r.rec)); err != nil {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return fmt.Errorf("keyset: reading a run back: %w", err)
	}
	return nil
}

type runHeap[R any] struct {
	runs []*run[R]
	cmp  func(a, b R) int
}

func (h runHeap[R]) Len() int           { return len(h.runs) }
func (h runHeap[R]) Less(i, j int) bool { return h.cmp(h.runs[i].rec, h.runs[j].rec) < 0 }
func (h runHeap[R]) Swap(i, j int)      { h.runs[i], h.runs[j] = h.runs[j], h.runs[i] }
func (h *runHeap[R]) Push(x any)        { h.runs = append(h.runs, x.(*run[R])) }
func (h *runHeap[R]) Pop() any {
	old := h.runs
	r := old[len(old)-1]
	h.runs = old[:len(old)-1]
	return r
}
