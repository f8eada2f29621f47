package blobstream

import (
	"context"
	"io"
	"sync"
)

// A source's Read may never return (a stalled connection, a buggy
// source), and closing the stream is the only portable way to interrupt
// it. So the caller never calls the source's Read itself: each stream Next
// returns reads through a pump goroutine, and a Read waits for the pump or
// for ctx, whichever comes first. On cancellation the source's stream is
// closed, which ends the pump's Read for every well-behaved source (HTTP
// bodies, files, pipes); a Read that ignores Close keeps only the pump
// goroutine, inside the source's own code, until that Read returns.

// The pump reads only when asked, so the source's stream is never read
// and closed at once except to interrupt a Read after cancellation (some
// streams, multipart parts, must not be). It reads pumpBufSize at a time
// whatever the caller asked, so one hand-off serves several small Reads.

// pumpBufSize is the read handed to the source at once; the pump owns one
// such buffer per stream (pooled).
const pumpBufSize = 256 << 10

var pumpBufs = sync.Pool{New: func() any { b := make([]byte, pumpBufSize); return &b }}

type readResult struct {
	n   int
	err error
}

// pumped is a source stream read through a pump. It is not safe for
// concurrent use (like any io.Reader); Close may be called once the reader
// is done.
type pumped struct {
	rc      io.ReadCloser
	ctx     context.Context
	req     chan int        // consumer → pump: read up to n bytes
	res     chan readResult // pump → consumer, buffered: the pump never blocks on it
	done    chan struct{}   // closed when the pump exits
	buf     *[]byte
	pending []byte // received, not yet returned
	err     error  // sticky
	started bool
	waiting bool // a read is in flight in the pump
	closed  bool
}

func newPumped(ctx context.Context, rc io.ReadCloser) *pumped {
	return &pumped{rc: rc, ctx: ctx}
}

func (s *pumped) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(s.pending) > 0 {
		n := copy(p, s.pending)
		s.pending = s.pending[n:]
		return n, nil
	}
	if s.err != nil {
		return 0, s.err
	}
	if err := s.ctx.Err(); err != nil {
		return 0, s.fail(context.Cause(s.ctx))
	}
	if !s.started {
		s.start()
	}
	if !s.waiting {
		s.req <- pumpBufSize // buffered, and the pump is idle: never blocks
		s.waiting = true
	}
	select {
	case r := <-s.res:
		s.waiting = false
		s.pending = (*s.buf)[:r.n]
		if r.err != nil {
			s.err = r.err
		}
		n := copy(p, s.pending)
		s.pending = s.pending[n:]
		if len(s.pending) == 0 && s.err != nil {
			return n, s.err
		}
		return n, nil
	case <-s.ctx.Done():
		return 0, s.fail(context.Cause(s.ctx))
	}
}

// fail records err and closes the source's stream, to interrupt a Read the
// pump may be blocked in.
func (s *pumped) fail(err error) error {
	s.err = err
	s.closeSource()
	return err
}

func (s *pumped) start() {
	s.started = true
	s.buf = pumpBufs.Get().(*[]byte)
	s.req = make(chan int, 1)
	s.res = make(chan readResult, 1)
	s.done = make(chan struct{})
	go pump(s.rc, *s.buf, s.req, s.res, s.done)
}

func pump(rc io.Reader, buf []byte, req <-chan int, res chan<- readResult, done chan<- struct{}) {
	defer close(done)
	for n := range req {
		k, err := rc.Read(buf[:n])
		res <- readResult{k, err}
		if err != nil {
			return
		}
	}
}

func (s *pumped) closeSource() {
	if s.closed {
		return
	}
	s.closed = true
	_ = s.rc.Close()
}

// Close closes the source's stream and lets the pump go; its buffer goes
// back to the pool only if the pump has exited (otherwise it may still be
// writing into it).
func (s *pumped) Close() error {
	if s.closed && !s.started {
		return nil
	}
	var err error
	if !s.closed {
		s.closed = true
		err = s.rc.Close()
	}
	if s.started && s.req != nil {
		close(s.req)
		s.req = nil
		if !s.waiting {
			<-s.done // idle pump: exits at once
		}
		select {
		case <-s.done:
			pumpBufs.Put(s.buf)
		default:
		}
		s.buf, s.pending = nil, nil
	}
	return err
}
