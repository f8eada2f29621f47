package registry

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.podman.io/storage/pkg/chunked"
)

// span is a validated byte range [off, end) of the blob.
type span struct{ off, end int64 }

func (s span) len() int64 { return s.end - s.off }

// resolve validates a GetBlobAt request against a blob of size bytes, so a
// bad request fails before any I/O.
func resolve(chunks []chunked.ImageSourceChunk, size int64) ([]span, error) {
	if len(chunks) == 0 {
		return nil, fmt.Errorf("registry: empty range request")
	}
	out := make([]span, len(chunks))
	var prevEnd uint64
	for i, c := range chunks {
		if c.Offset >= uint64(size) {
			return nil, fmt.Errorf("registry: range %d (offset %d) starts at or beyond the end of the %d-byte blob", i, c.Offset, size)
		}
		if i > 0 && c.Offset < prevEnd {
			return nil, fmt.Errorf("registry: range %d (offset %d) is unsorted or overlaps the previous one ending at %d", i, c.Offset, prevEnd)
		}
		n := c.Length
		if n == math.MaxUint64 {
			if i != len(chunks)-1 {
				return nil, fmt.Errorf("registry: range %d: length to the end of the blob is only allowed last", i)
			}
			n = uint64(size) - c.Offset
		}
		if n == 0 || n > uint64(size)-c.Offset {
			return nil, fmt.Errorf("registry: range %d (offset %d, length %d) is empty or extends beyond the %d-byte blob", i, c.Offset, c.Length, size)
		}
		prevEnd = c.Offset + n
		out[i] = span{off: int64(c.Offset), end: int64(prevEnd)}
	}
	return out, nil
}

// rangeHeader renders spans as an HTTP Range header value.
func rangeHeader(spans []span) string {
	var b strings.Builder
	b.WriteString("bytes=")
	for i, s := range spans {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d-%d", s.off, s.end-1)
	}
	return b.String()
}

// contentRange parses "bytes first-last/total" (total may be "*": -1).
func contentRange(v string) (span, int64, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !ok {
		return span{}, 0, fmt.Errorf("%w: Content-Range %q", ErrBadResponse, v)
	}
	rng, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return span{}, 0, fmt.Errorf("%w: Content-Range %q", ErrBadResponse, v)
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return span{}, 0, fmt.Errorf("%w: Content-Range %q", ErrBadResponse, v)
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first || last == math.MaxInt64 {
		return span{}, 0, fmt.Errorf("%w: Content-Range %q", ErrBadResponse, v)
	}
	total := int64(-1)
	if tot != "*" {
		t, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || t <= last {
			return span{}, 0, fmt.Errorf("%w: Content-Range %q", ErrBadResponse, v)
		}
		total = t
	}
	return span{off: first, end: last + 1}, total, nil
}

// maxRangeHeader bounds the Range header of one request: servers and
// proxies cap request headers (nginx: 8 KiB per line by default); longer
// requests are split into batches.
const maxRangeHeader = 6000

// batch is how many of spans (at least one) fit in one Range header.
func batch(spans []span) int {
	n := len("bytes=")
	for i, s := range spans {
		n += len(fmt.Sprintf("%d-%d,", s.off, s.end-1))
		if n > maxRangeHeader && i > 0 {
			return i
		}
	}
	return len(spans)
}
