package zstdchunked

import (
	"errors"
	"sync"

	"github.com/vbatts/tar-split/archive/tar"
)

// headerSource yields tar-split headers in order, io.EOF at the end.
type headerSource interface {
	next() (*tar.Header, error)
}

// headersAhead parses a tar-split's headers on another goroutine, a few
// batches ahead of the TOC decoding that compares them with the entries:
// the two parses cost about the same and depend on each other only where
// compared, so a load uses both cores.
//
// Memory: at most aheadBatches+2 batches of headerBatch headers (a few
// hundred KiB), whatever the entry count.
type headersAhead struct {
	ts      *tarSplitHeaders
	batches chan []headerResult
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once

	cur  []headerResult
	last error // the terminal result (io.EOF or an error), once reached
}

type headerResult struct {
	hdr *tar.Header
	err error
}

const (
	headerBatch  = 256
	aheadBatches = 4
)

// errHeadersStopped: next after close (a bug in the caller).
var errHeadersStopped = errors.New("tar-split header parse stopped")

func newHeadersAhead(ts *tarSplitHeaders) *headersAhead {
	h := &headersAhead{ts: ts, batches: make(chan []headerResult, aheadBatches), stop: make(chan struct{}), done: make(chan struct{})}
	go h.parse()
	return h
}

func (h *headersAhead) parse() {
	defer close(h.done)
	defer close(h.batches)
	for {
		batch := make([]headerResult, 0, headerBatch)
		var err error
		for len(batch) < headerBatch && err == nil {
			var hdr *tar.Header
			hdr, err = h.ts.next()
			batch = append(batch, headerResult{hdr, err})
		}
		select {
		case h.batches <- batch:
		case <-h.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// next returns the next header, as tarSplitHeaders.next would.
func (h *headersAhead) next() (*tar.Header, error) {
	if h.last != nil {
		return nil, h.last
	}
	if len(h.cur) == 0 {
		b, ok := <-h.batches
		if !ok {
			return nil, errHeadersStopped
		}
		h.cur = b
	}
	r := h.cur[0]
	h.cur = h.cur[1:]
	if r.err != nil {
		h.last = r.err
	}
	return r.hdr, r.err
}

// close stops the parse and waits for it; afterwards ts may be read (its
// size is final once next has returned io.EOF).
// It is called by the consumer; next then returns errHeadersStopped unless
// the end was reached.
func (h *headersAhead) close() {
	h.once.Do(func() { close(h.stop) })
	<-h.done
	h.cur = nil
	if h.last == nil {
		h.last = errHeadersStopped
	}
}
