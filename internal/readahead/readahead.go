// Package readahead runs the producer of a stream on its own goroutine, a
// few buffers ahead of its consumer, so a pipeline of CPU-bound stages
// (decompressing, tar-split's parse, hashing, chunking) uses both cores
// instead of taking turns.
//
// Memory: n buffers of size bytes, allocated up front.
package readahead

import (
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

// New starts reading r ahead in n buffers of size bytes. If h is not nil,
// every byte read from r is written to it on the reading goroutine (hashing
// off the consumer's path); h may be used once Read has returned an error
// or Close has returned.
func New(r io.Reader, size, n int, h hash.Hash) *Reader {
	ra := &Reader{full: make(chan []byte, n), free: make(chan []byte, n), stop: make(chan struct{}), done: make(chan struct{})}
	for range n {
		ra.free <- make([]byte, size)
	}
	go ra.fill(r, h)
	return ra
}

func (ra *Reader) fill(r io.Reader, h hash.Hash) {
	defer close(ra.done)
	defer close(ra.full)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.stop:
			return
		}
		// One Read, not ReadFull: what the source has is passed on at
		// once, so a slow producer's bytes (and the consumer's verdict
		// on them) are not held back until a buffer fills.
		k, err := r.Read(buf[:cap(buf)])
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
