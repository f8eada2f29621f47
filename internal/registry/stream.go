package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

var errStreamClosed = errors.New("registry: read from a closed range stream")

// stream is one range handed to the consumer. If its response breaks
// (reset, truncation, stall) it resumes from the first byte missing with a
// single-range request, so the consumer never sees the break.
type stream struct {
	b       *Blob
	sp      span
	pos     int64
	r       io.Reader
	resumed io.Closer // the body of the last resume, owned by the stream
	broken  atomic.Bool
	failed  atomic.Pointer[error] // why the stream gave up, if it did
	stalls  int                   // resumes in a row without progress
	resumes int

	closed atomic.Bool
	once   sync.Once
	done   chan struct{}
	mu     sync.Mutex // Read against Close
}

func newStream(b *Blob, sp span, r io.Reader) *stream {
	return &stream{b: b, sp: sp, pos: sp.off, r: r, done: make(chan struct{})}
}

func (s *stream) finish() { s.once.Do(func() { close(s.done) }) }

// broke reports whether the stream stopped reading its original response.
func (s *stream) broke() bool { return s.broken.Load() }

func (s *stream) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return 0, errStreamClosed
	}
	left := s.sp.end - s.pos
	if left == 0 {
		s.finish()
		return 0, io.EOF
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := s.r.Read(p)
	s.pos += int64(n)
	if n > 0 {
		s.stalls = 0
	}
	if s.pos == s.sp.end {
		s.finish()
		return n, io.EOF
	}
	if err == nil {
		return n, nil
	}
	if cerr := context.Cause(s.b.ctx); cerr != nil {
		s.fail(cerr)
		return n, cerr
	}
	if rerr := s.resume(err); rerr != nil {
		s.fail(rerr)
		return n, rerr
	}
	return n, nil
}

// fail records why the stream gave up and releases the producer.
func (s *stream) fail(err error) {
	s.failed.CompareAndSwap(nil, &err)
	s.finish()
}

// err is why the stream gave up, nil if it did not.
func (s *stream) err() error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// resume replaces a broken response with a request for the bytes left.
func (s *stream) resume(cause error) error {
	s.broken.Store(true)
	if s.resumed != nil {
		_ = s.resumed.Close()
		s.resumed = nil
	}
	s.stalls++
	s.resumes++
	opts := s.b.c.opts
	if s.stalls > opts.Retries {
		return fmt.Errorf("blob %s, range %d-%d: broke at offset %d %d times in a row: %w", s.b.digest, s.sp.off, s.sp.end-1, s.pos, s.stalls, cause)
	}
	// Progress resets the count above; a registry that sends a few bytes
	// per connection must still not keep us resuming for ever.
	if s.resumes > 4*(opts.Retries+1) {
		return fmt.Errorf("blob %s, range %d-%d: broke %d times: %w", s.b.digest, s.sp.off, s.sp.end-1, s.resumes, cause)
	}
	if err := sleep(s.b.ctx, opts.Backoff<<(s.stalls-1)); err != nil {
		return err
	}
	rest := span{off: s.pos, end: s.sp.end}
	hdr := rangeHeader([]span{rest})
	resp, err := s.b.get(s.b.ctx, hdr)
	if err != nil {
		return fmt.Errorf("blob %s: resuming at offset %d after %v: %w", s.b.digest, s.pos, cause, err)
	}
	if resp.StatusCode != http.StatusPartialContent {
		_ = resp.Body.Close()
		return s.b.refuse(Reason{Status: resp.StatusCode, Detail: fmt.Sprintf("resuming a broken range with %s", hdr)})
	}
	got, total, err := contentRange(resp.Header.Get("Content-Range"))
	if err == nil && (got.off != rest.off || got.end < rest.end || (total >= 0 && total != s.b.size)) {
		err = fmt.Errorf("%w: asked for %s, got %q", ErrBadResponse, hdr, resp.Header.Get("Content-Range"))
	}
	if err != nil {
		_ = resp.Body.Close()
		return s.b.refuse(Reason{Status: resp.StatusCode, Detail: err.Error()})
	}
	s.resumed = resp.Body
	s.r = resp.Body
	return nil
}

// Close releases the stream (and lets the producer go on); unread bytes
// are not fetched.
func (s *stream) Close() error {
	s.closed.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resumed != nil {
		_ = s.resumed.Close()
		s.resumed = nil
	}
	s.finish()
	return nil
}
