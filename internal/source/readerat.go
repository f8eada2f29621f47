package source

import (
	"io"
	"sync/atomic"

	"go.podman.io/storage/pkg/chunked"
)

// ReaderAt serves GetBlobAt requests from an io.ReaderAt of known size.
// It is safe for concurrent use; every call gets its own producer goroutine.
type ReaderAt struct {
	r    io.ReaderAt
	size int64

	requests atomic.Int64
	ranges   atomic.Int64
	bytes    atomic.Int64
}

var _ chunked.ImageSourceSeekable = (*ReaderAt)(nil)

// Stats is a snapshot of a source's counters.
type Stats struct {
	Requests int64 // accepted GetBlobAt calls
	Ranges   int64 // ranges in accepted calls
	Bytes    int64 // bytes actually read by consumers
}

// NewReaderAt returns a source serving ranges of the first size bytes of r.
func NewReaderAt(r io.ReaderAt, size int64) *ReaderAt {
	return &ReaderAt{r: r, size: size}
}

// Size returns the blob size.
func (s *ReaderAt) Size() int64 { return s.size }

// Stats returns the current counters.
func (s *ReaderAt) Stats() Stats {
	return Stats{Requests: s.requests.Load(), Ranges: s.ranges.Load(), Bytes: s.bytes.Load()}
}

// GetBlobAt implements chunked.ImageSourceSeekable. An invalid request
// (unsorted, overlapping, outside the blob, empty, or MaxUint64 length on a
// range other than the last) fails immediately with an error naming the range.
// Otherwise one stream per range is sent in request order, each only after
// the previous one was closed or fully read; then both channels are closed.
// The caller must drain both channels.
func (s *ReaderAt) GetBlobAt(chunks []chunked.ImageSourceChunk) (chan io.ReadCloser, chan error, error) {
	spans, err := resolve(chunks, s.size)
	if err != nil {
		return nil, nil, err
	}
	s.requests.Add(1)
	s.ranges.Add(int64(len(spans)))

	streams := make(chan io.ReadCloser)
	errs := make(chan error)
	go func() {
		defer close(errs)
		defer close(streams)
		for _, sp := range spans {
			st := newStream(s.r, sp, &s.bytes)
			streams <- st
			<-st.done
		}
	}()
	return streams, errs, nil
}
