// Package readahead runs the producer of a stream on its own goroutine, a
// few buffers ahead of its consumer, so a pipeline of CPU-bound stages
// (decompressing, tar-split's parse, hashing, chunking) uses both cores
// instead of taking turns.
//
// Memory: n buffers of size bytes, allocated up front.
package readahead

import (
	"errors"
	"hash"
	"io"
	"sync"
)

// Reader reads its source ahead on another goroutine. Read is for one
// consumer; Close may be called at any time, once or more.
type Reader struct {
	full chan []byte
	free chan []byte
	stop chan struct{}
	done chan struct{}
	once sync.Once
	err  error // set before full is closed

	buf []byte // the buffer being consumed, full capacity
	cur []byte // its unread part
}

// New starts reading r ahead in n buffers of size bytes, each passed on as
// soon as a Read returns: what a slow producer has written reaches the
// consumer at once. If h is not nil, every byte read from r is written to
// it on the reading goroutine (hashing off the consumer's path); h may be
// used once Read has returned an error or Close has returned.
func New(r io.Reader, size, n int, h hash.Hash) *Reader {
	return start(r, size, n, h, false)
}

// NewFilling is New, but each buffer is filled (io.ReadFull) before it is
// passed on: fewer handoffs for a source that is never waiting on a
// producer the consumer must answer (a decompressor over a download), not
// for a stream whose consumer must see bytes as they come.
func NewFilling(r io.Reader, size, n int, h hash.Hash) *Reader {
	return start(r, size, n, h, true)
}

func start(r io.Reader, size, n int, h hash.Hash, filling bool) *Reader {
	ra := &Reader{full: make(chan []byte, n), free: make(chan []byte, n), stop: make(chan struct{}), done: make(chan struct{})}
	for range n {
		ra.free <- make([]byte, size)
	}
	read := r.Read
	if filling {
		read = func(p []byte) (int, error) {
			k, err := io.ReadFull(r, p)
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF // a short last buffer
			}
			return k, err
		}
	}
	go ra.fill(read, h)
	return ra
}

func (ra *Reader) fill(read func([]byte) (int, error), h hash.Hash) {
	defer close(ra.done)
	defer close(ra.full)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.stop:
			return
		}
		k, err := read(buf[:cap(buf)])
		if k > 0 {
			if h != nil {
				h.Write(buf[:k]) // a hash.Hash never fails
			}
			select {
			case ra.full <- buf[:k]:
			case <-ra.stop:
				return
			}
		}
		if err != nil {
			ra.err = err
			return
		}
		if k == 0 {
			ra.free <- buf // nothing read: the buffer is free again
		}
	}
}

// Read implements io.Reader.
func (ra *Reader) Read(p []byte) (int, error) {
	for len(ra.cur) == 0 {
		if ra.buf != nil {
			ra.free <- ra.buf[:cap(ra.buf)]
			ra.buf = nil
		}
		b, ok := <-ra.full
		if !ok {
			return 0, ra.err
		}
		ra.buf, ra.cur = b, b
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}

// Close stops the goroutine and waits for it: afterwards nothing reads the
// underlying reader any more. A goroutine blocked inside the source's Read
// is waited for: unblock the source first (close it, cancel its context).
func (ra *Reader) Close() error {
	ra.once.Do(func() { close(ra.stop) })
	<-ra.done
	return nil
}
