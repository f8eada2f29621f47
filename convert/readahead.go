package convert

import (
	"errors"
	"io"
	"sync"
)

// readahead decompresses ahead of the converter on another goroutine, so
// gunzip (or zstd) and the conversion's chunking and hashing use both cores.
// Memory: n buffers of size bytes.
type readahead struct {
	full chan []byte
	free chan []byte
	stop chan struct{}
	done chan struct{}
	once sync.Once
	err  error // set before full is closed

	buf []byte // the buffer being consumed, full capacity
	cur []byte // its unread part
}

func newReadahead(r io.Reader, size, n int) *readahead {
	ra := &readahead{full: make(chan []byte, n), free: make(chan []byte, n), stop: make(chan struct{}), done: make(chan struct{})}
	for range n {
		ra.free <- make([]byte, size)
	}
	go ra.fill(r)
	return ra
}

func (ra *readahead) fill(r io.Reader) {
	defer close(ra.done)
	defer close(ra.full)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.stop:
			return
		}
		k, err := io.ReadFull(r, buf[:cap(buf)])
		if k > 0 {
			select {
			case ra.full <- buf[:k]:
			case <-ra.stop:
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			ra.err = err
			return
		}
	}
}

func (ra *readahead) Read(p []byte) (int, error) {
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
// underlying reader any more.
func (ra *readahead) Close() error {
	ra.once.Do(func() { close(ra.stop) })
	<-ra.done
	return nil
}
