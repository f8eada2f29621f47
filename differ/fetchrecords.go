package differ

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/chunkdiff/chunkdiff/internal/spool"
)

// fetchRecords holds at most one variable-length record per fetch file on
// disk, not in memory (issue 12: an update of a 1M-file layer finds ~1M
// files or chunks in the store): the records, length-prefixed, appended to
// one unlinked temp file, and an index of 8 bytes per fetch file, by fetch
// index, naming its record. Planning workers add records in any order;
// readers look a fetch file up, or scan the index in order.
//
// Memory: a 64 KiB write buffer while adding, 4 KiB per scan, whatever the
// count. Disk: 4 bytes plus the record per record, and 8 bytes per fetch
// file once there is one record.
type fetchRecords struct {
	what  string // for errors: "reuse candidates"
	dir   string // temp dir
	files int    // fetch files: the index's length
	mu    sync.Mutex
	recs  *os.File // the records, back to back; nil until the first add
	w     *bufio.Writer
	size  int64    // bytes added to recs, buffered included
	index *os.File // files × 8 bytes: 0 none, else 1 + record offset [| markBit]
	n     int      // records added
}

// markBit flags a record in the index (a rejected candidate).
const markBit = uint64(1) << 63

// recordPeek is how much of a record one read fetches: most records fit.
const recordPeek = 512

func newFetchRecords(what, tempDir string, files int) *fetchRecords {
	return &fetchRecords{what: what, dir: tempDir, files: files}
}

// len is the number of records added.
func (s *fetchRecords) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// add records rec for fetch file k; it may be called from several
// goroutines, once per fetch index.
func (s *fetchRecords) add(k int, rec []byte) error {
	if k < 0 || k >= s.files {
		return fmt.Errorf("%s: fetch file %d of %d", s.what, k, s.files)
	}
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(rec))) //nolint:gosec // a record: paths and chunk offsets, far below 4 GiB
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recs == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	off := s.size
	if _, err := s.w.Write(n[:]); err != nil {
		return fmt.Errorf("spooling %s: %w", s.what, err)
	}
	if _, err := s.w.Write(rec); err != nil {
		return fmt.Errorf("spooling %s: %w", s.what, err)
	}
	s.size += int64(len(n) + len(rec))
	if err := s.setIndex(k, uint64(off)+1); err != nil { //nolint:gosec // an offset, not negative
		return err
	}
	s.n++
	return nil
}

// open creates the two temp files (s.mu held).
func (s *fetchRecords) open() error {
	recs, err := spool.Open(s.dir)
	if err != nil {
		return fmt.Errorf("spooling %s: %w", s.what, err)
	}
	index, err := spool.Open(s.dir)
	if err != nil {
		_ = recs.Close()
		return fmt.Errorf("spooling %s: %w", s.what, err)
	}
	// Sparse: a fetch file without a record reads as 0.
	if err := index.Truncate(int64(s.files) * 8); err != nil {
		_, _ = recs.Close(), index.Close()
		return fmt.Errorf("sizing the index of %s: %w", s.what, err)
	}
	s.recs, s.index = recs, index
	s.w = bufio.NewWriterSize(io.NewOffsetWriter(recs, 0), 64<<10)
	return nil
}

// setIndex writes fetch file k's index entry. Entries are distinct 8-byte
// ranges, so concurrent writers of different k need no lock.
func (s *fetchRecords) setIndex(k int, v uint64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	if _, err := s.index.WriteAt(b[:], int64(k)*8); err != nil {
		return fmt.Errorf("indexing %s of fetch file %d: %w", s.what, k, err)
	}
	return nil
}

// finish flushes the records: call it after the last add, before reading.
func (s *fetchRecords) finish() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("spooling %s: %w", s.what, err)
	}
	return nil
}

// read returns the record at off (a fresh slice). Safe for concurrent use
// after finish.
func (s *fetchRecords) read(off int64) ([]byte, error) {
	b := make([]byte, recordPeek)
	n, err := s.recs.ReadAt(b, off)
	if n < 4 {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading %s back at %d: %w", s.what, off, err)
	}
	size := int(binary.LittleEndian.Uint32(b))
	if 4+size <= n {
		return b[4 : 4+size], nil
	}
	rec := make([]byte, size)
	copy(rec, b[4:n])
	if _, err := s.recs.ReadAt(rec[n-4:], off+int64(n)); err != nil {
		return nil, fmt.Errorf("reading %s back at %d: %w", s.what, off, err)
	}
	return rec, nil
}

// lookup returns the offset of fetch file k's record, ok false if it has
// none. Safe for concurrent use after finish.
func (s *fetchRecords) lookup(k int) (off int64, ok bool, err error) {
	if s.index == nil {
		return 0, false, nil
	}
	var b [8]byte
	if _, err := s.index.ReadAt(b[:], int64(k)*8); err != nil {
		return 0, false, fmt.Errorf("reading the index of %s at fetch file %d: %w", s.what, k, err)
	}
	off, ok, _ = decodeIndex(binary.LittleEndian.Uint64(b[:]))
	return off, ok, nil
}

func decodeIndex(v uint64) (off int64, ok, marked bool) {
	if v == 0 {
		return 0, false, false
	}
	return int64(v&^markBit) - 1, true, v&markBit != 0 //nolint:gosec // below 1<<63
}

// mark flags the record of fetch file k, at off. Safe for concurrent use
// (one call per k) while nothing scans.
func (s *fetchRecords) mark(k int, off int64) error {
	return s.setIndex(k, (uint64(off)+1)|markBit) //nolint:gosec // an offset, not negative
}

// recordScan reads the index back in fetch order.
type recordScan struct {
	s *fetchRecords
	r *bufio.Reader // nil: no record at all
	k int
}

// scan starts reading the index from fetch file 0 (after finish).
func (s *fetchRecords) scan() *recordScan {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index == nil {
		return &recordScan{s: s}
	}
	return &recordScan{s: s, r: bufio.NewReaderSize(io.NewSectionReader(s.index, 0, int64(s.files)*8), 4<<10)}
}

// next returns the record offset of the next fetch file (k = 0, 1, 2… on
// successive calls): ok is false if it has none, marked tells a record
// flagged by mark.
func (sc *recordScan) next() (off int64, ok, marked bool, err error) {
	k := sc.k
	sc.k++
	if sc.r == nil {
		return 0, false, false, nil
	}
	var b [8]byte
	if _, err := io.ReadFull(sc.r, b[:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // the index covers every fetch file
		}
		return 0, false, false, fmt.Errorf("reading the index of %s at fetch file %d: %w", sc.s.what, k, err)
	}
	off, ok, marked = decodeIndex(binary.LittleEndian.Uint64(b[:]))
	return off, ok, marked, nil
}

// close releases the temp files.
func (s *fetchRecords) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.recs != nil {
		errs = append(errs, s.recs.Close(), s.index.Close())
		s.recs, s.index, s.w = nil, nil, nil
	}
	return errors.Join(errs...)
}
