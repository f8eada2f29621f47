package testutil

import (
	"bytes"
	"errors"
	"io"
	"math"
	"sync"
	"sync/atomic"

	"github.com/chunkdiff/chunkdiff/internal/source"
	"go.podman.io/storage/pkg/chunked"
)

// Source is a scripted chunked.ImageSourceSeekable over an in-memory blob,
// built on internal/source. It records every call (refused ones too) and
// injects the faults its options describe. Safe for concurrent use.
type Source struct {
	blob  []byte
	inner *source.ReaderAt
	opts  []SourceOption

	mu       sync.Mutex
	requests [][]chunked.ImageSourceChunk
	lies     map[*byte]*source.ReaderAt // keyed by &lie[0]
	wire     atomic.Int64               // bytes sent beyond what consumers read

	// release ends every hang the options script (Stall, NeverClose).
	release     chan struct{}
	releaseOnce sync.Once
}

var _ chunked.ImageSourceSeekable = (*Source)(nil)

// NewSource returns a source serving blob, scripted by opts.
func NewSource(blob []byte, opts ...SourceOption) *Source {
	return &Source{
		blob:    blob,
		inner:   source.NewReaderAt(bytes.NewReader(blob), int64(len(blob))),
		opts:    opts,
		lies:    map[*byte]*source.ReaderAt{},
		release: make(chan struct{}),
	}
}

// Release ends every scripted hang: stalled reads return an error and
// producers that never closed their channels give up. Tests call it last,
// to tell the source's own goroutines from the consumer's.
func (s *Source) Release() { s.releaseOnce.Do(func() { close(s.release) }) }

// Requests returns a copy of every call's ranges, in call order.
func (s *Source) Requests() [][]chunked.ImageSourceChunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]chunked.ImageSourceChunk, len(s.requests))
	for i, r := range s.requests {
		out[i] = append([]chunked.ImageSourceChunk(nil), r...)
	}
	return out
}

// Calls returns the number of GetBlobAt calls so far.
func (s *Source) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// BytesServed returns the bytes consumers read from streams plus bytes a
// whole-blob (200) answer would have put on the wire beyond the ranges.
func (s *Source) BytesServed() int64 {
	s.mu.Lock()
	n := s.inner.Stats().Bytes
	for _, l := range s.lies {
		n += l.Stats().Bytes
	}
	s.mu.Unlock()
	return n + s.wire.Load()
}

// GetBlobAt implements chunked.ImageSourceSeekable.
func (s *Source) GetBlobAt(chunks []chunked.ImageSourceChunk) (chan io.ReadCloser, chan error, error) {
	s.mu.Lock()
	s.requests = append(s.requests, append([]chunked.ImageSourceChunk(nil), chunks...))
	call := len(s.requests)
	b := resolveBehaviour(s.opts, call)
	inner := s.inner
	if len(b.lie) > 0 {
		inner = s.lies[&b.lie[0]]
		if inner == nil {
			inner = source.NewReaderAt(bytes.NewReader(b.lie), int64(len(b.lie)))
			s.lies[&b.lie[0]] = inner
		}
	}
	s.mu.Unlock()

	if b.stallCall {
		<-s.release // a registry that never answers
		return nil, nil, ErrReleased
	}
	switch {
	case b.failErr != nil:
		return nil, nil, b.failErr
	case b.refuse, b.maxRanges > 0 && len(chunks) > b.maxRanges:
		return nil, nil, chunked.ErrBadRequest{}
	}
	if len(chunks) > 1 {
		switch b.multiRange {
		case MultiRangeBadRequest:
			return nil, nil, chunked.ErrBadRequest{}
		case MultiRangeNotImplemented:
			return nil, nil, &StatusError{Code: 501}
		case MultiRangeNotSatisfiable:
			return nil, nil, &StatusError{Code: 416}
		}
	}

	inStreams, inErrs, err := inner.GetBlobAt(chunks)
	if err != nil {
		return nil, nil, err
	}
	if len(chunks) > 1 && b.multiRange == MultiRangeWholeBlob {
		s.wire.Add(inner.Size() - requestedBytes(chunks, inner.Size()))
	}
	lengths := make([]int64, len(chunks))
	for i := range chunks {
		lengths[i] = requestedBytes(chunks[i:i+1], inner.Size())
	}
	streams := make(chan io.ReadCloser)
	errs := make(chan error)
	b.release = s.release
	go b.relay(inStreams, inErrs, streams, errs, lengths)
	return streams, errs, nil
}

// requestedBytes sums range lengths, resolving MaxUint64 against size.
func requestedBytes(chunks []chunked.ImageSourceChunk, size int64) int64 {
	var n int64
	for _, c := range chunks {
		if c.Length == math.MaxUint64 {
			n += size - int64(c.Offset)
		} else {
			n += int64(c.Length)
		}
	}
	return n
}

// relay forwards the inner response, applying the per-stream faults. It
// always drains the inner channels so the inner producer never leaks.
func (b *behaviour) relay(inStreams chan io.ReadCloser, inErrs chan error, streams chan io.ReadCloser, errs chan error, lengths []int64) {
	released := false
	defer func() {
		if b.neverClose {
			// Hang on to both channels until released; never close them.
			<-b.release
			return
		}
		close(streams)
		close(errs)
	}()
	sendStream := func(st io.ReadCloser) bool {
		select {
		case streams <- st:
			return true
		case <-b.release:
			released = true
			st.Close()
			return false
		}
	}
	sendErr := func(err error) bool {
		select {
		case errs <- err:
			return true
		case <-b.release:
			released = true
			return false
		}
	}
	sent, idx := 0, 0
	stopped := false
	for st := range inStreams {
		i := idx
		idx++
		if stopped || released {
			st.Close()
			continue
		}
		if b.errAfter >= 0 && sent == b.errAfter {
			st.Close()
			sendErr(b.errAfterErr)
			stopped = true
			continue
		}
		if b.streamLimit >= 0 && sent >= b.streamLimit {
			st.Close()
			continue
		}
		if sendStream(b.wrap(st, i, lengths[i])) {
			sent++
		}
	}
	for err := range inErrs {
		if !released {
			sendErr(err)
		}
	}
	if stopped || released {
		return
	}
	if b.errAfter >= 0 && sent == b.errAfter {
		sendErr(b.errAfterErr)
		return
	}
	for i := 0; i < b.extraStreams; i++ {
		if !sendStream(io.NopCloser(bytes.NewReader([]byte("surplus stream")))) {
			return
		}
	}
}

func (b *behaviour) wrap(st io.ReadCloser, i int, n int64) io.ReadCloser {
	var r io.Reader = st
	if b.truncIdx == -1 || b.truncIdx == i {
		r = io.LimitReader(r, max(n-b.truncCut, 0))
	}
	if b.corruptIdx == -1 || b.corruptIdx == i {
		r = &corrupter{r: r, at: n / 2}
	}
	if b.stallIdx == -1 || b.stallIdx == i {
		return &stalled{ReadCloser: st, forever: b.stallForever, closed: make(chan struct{}), release: b.release}
	}
	if r == io.Reader(st) {
		return st
	}
	return readCloser{r, st}
}

// stalled is a stream whose Read never delivers: it blocks until the
// stream is closed (as an HTTP body does) or, if forever, until the source
// is released.
type stalled struct {
	io.ReadCloser
	forever   bool
	closed    chan struct{}
	closeOnce sync.Once
	release   chan struct{}
}

// ErrReleased is what stalled reads return once the source is released.
var ErrReleased = errors.New("testutil: source released")

func (s *stalled) Read([]byte) (int, error) {
	closed := s.closed
	if s.forever {
		closed = nil
	}
	select {
	case <-closed:
		return 0, io.ErrClosedPipe
	case <-s.release:
		return 0, ErrReleased
	}
}

func (s *stalled) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	return s.ReadCloser.Close()
}

type readCloser struct {
	io.Reader
	io.Closer
}

// corrupter flips every bit of the byte at offset at.
type corrupter struct {
	r   io.Reader
	pos int64
	at  int64
}

func (c *corrupter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.at >= c.pos && c.at < c.pos+int64(n) {
		p[c.at-c.pos] ^= 0xff
	}
	c.pos += int64(n)
	return n, err
}
