package source

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

var errStreamClosed = errors.New("read from closed range stream")

// stream serves one range and signals done once it is closed or fully read,
// which lets the producer hand out the next range.
type stream struct {
	r      *io.SectionReader
	left   int64
	served *atomic.Int64
	closed atomic.Bool
	once   sync.Once
	done   chan struct{}
}

func newStream(ra io.ReaderAt, s span, served *atomic.Int64) *stream {
	return &stream{
		r:      io.NewSectionReader(ra, s.off, s.n),
		left:   s.n,
		served: served,
		done:   make(chan struct{}),
	}
}

func (s *stream) finish() { s.once.Do(func() { close(s.done) }) }

func (s *stream) Read(p []byte) (int, error) {
	if s.closed.Load() {
		return 0, errStreamClosed
	}
	if s.left == 0 {
		s.finish()
		return 0, io.EOF
	}
	n, err := s.r.Read(p)
	s.left -= int64(n)
	s.served.Add(int64(n))
	switch {
	case s.left == 0:
		// Fully read: report EOF with the last bytes, as readers may.
		s.finish()
		return n, io.EOF
	case errors.Is(err, io.EOF):
		// The backing blob is shorter than it claimed to be.
		s.finish()
		return n, io.ErrUnexpectedEOF
	case err != nil:
		s.finish()
	}
	return n, err
}

func (s *stream) Close() error {
	s.closed.Store(true)
	s.finish()
	return nil
}
