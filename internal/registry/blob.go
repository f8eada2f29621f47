package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"

	"github.com/chunkdiff/chunkdiff/internal/spool"
	"github.com/opencontainers/go-digest"
	"go.podman.io/storage/pkg/chunked"
)

// Blob is one blob of the client's repository, read through range requests.
// It implements chunked.ImageSourceSeekable. Close it when done: it may hold
// a spooled copy of the blob.
type Blob struct {
	c      *Client
	ctx    context.Context
	digest digest.Digest
	size   int64
	url    string

	calls   atomic.Int64
	count   counters     // requests and response body bytes of this blob
	reopens atomic.Int64 // responses that broke between parts

	spoolMu sync.Mutex // one whole-blob download at a time

	mu      sync.Mutex
	refused *Reason
	spooled *os.File       // the whole blob, once a registry sent it whole mid-pull
	parked  *http.Response // a whole-blob answer to the first request, unread
	closed  bool
}

var _ chunked.ImageSourceSeekable = (*Blob)(nil)

// Blob returns the blob d of size bytes (size must be known: it comes from
// the manifest). Requests run under ctx; cancelling it ends every producer
// and request of the blob.
func (c *Client) Blob(ctx context.Context, d digest.Digest, size int64) *Blob {
	return &Blob{c: c, ctx: ctx, digest: d, size: size, url: c.BlobURL(d)}
}

// BlobStats is what was fetched for one blob.
type BlobStats struct {
	Calls        int64   `json:"calls"`         // GetBlobAt calls
	Requests     int64   `json:"requests"`      // HTTP requests, retries and resumes included
	BytesFetched int64   `json:"bytes_fetched"` // response body bytes read
	Refused      *Reason `json:"ranges_refused,omitempty"`
	Spooled      bool    `json:"spooled,omitempty"`
}

// Stats returns the blob's counters.
func (b *Blob) Stats() BlobStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BlobStats{Calls: b.calls.Load(), Requests: b.count.requests.Load(), BytesFetched: b.count.bytes.Load(), Refused: b.refused, Spooled: b.spooled != nil}
}

// Fetched is the number of response body bytes read for this blob so far.
func (b *Blob) Fetched() int64 { return b.count.bytes.Load() }

// Refused reports whether the registry would not serve this blob's ranges
// usably, and why: the caller should download it whole instead.
func (b *Blob) Refused() (Reason, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.refused == nil {
		return Reason{}, false
	}
	return *b.refused, true
}

// Close releases the spooled copy, if any.
func (b *Blob) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.parked != nil {
		_ = b.parked.Body.Close()
		b.parked = nil
	}
	if b.spooled != nil {
		err := b.spooled.Close()
		b.spooled = nil
		return err
	}
	return nil
}

// refuse records why ranges cannot be used and returns the error that says
// so, matching ErrRangesUnusable and chunked.ErrBadRequest.
func (b *Blob) refuse(r Reason) error {
	b.mu.Lock()
	if b.refused == nil {
		b.refused = &r
	}
	b.mu.Unlock()
	return fmt.Errorf("blob %s: %w (%s): %w", b.digest, ErrRangesUnusable, r, chunked.ErrBadRequest{})
}

func (b *Blob) get(ctx context.Context, rangeHdr string) (*http.Response, error) {
	return b.c.get(ctx, b.url, rangeHdr, &b.count)
}

func (b *Blob) statusError(resp *http.Response, rangeHdr string) error {
	return &StatusError{Code: resp.StatusCode, Status: resp.Status, URL: b.url, Range: rangeHdr}
}

// GetBlobAt implements chunked.ImageSourceSeekable. The first request is
// made before it returns, so refusals are immediate errors; then one stream
// per range is sent in order, each after the previous one was closed or read
// to its end. Both channels must be drained.
func (b *Blob) GetBlobAt(chunks []chunked.ImageSourceChunk) (chan io.ReadCloser, chan error, error) {
	spans, err := resolve(chunks, b.size)
	if err != nil {
		return nil, nil, err
	}
	first := b.calls.Add(1) == 1
	if r, ok := b.Refused(); ok {
		return nil, nil, fmt.Errorf("blob %s: %w (%s): %w", b.digest, ErrRangesUnusable, r, chunked.ErrBadRequest{})
	}
	if err := context.Cause(b.ctx); err != nil {
		return nil, nil, err
	}
	src, err := b.open(spans, first)
	if err != nil {
		return nil, nil, err
	}
	streams := make(chan io.ReadCloser)
	errs := make(chan error)
	go b.produce(spans, src, streams, errs)
	return streams, errs, nil
}

// produce sends one stream per span, reopening a response for the spans
// left whenever the current one cannot serve the next span.
func (b *Blob) produce(spans []span, src partSource, streams chan io.ReadCloser, errs chan error) {
	defer close(errs)
	defer close(streams)
	defer func() {
		if src != nil {
			src.close()
		}
	}()
	sendErr := func(err error) {
		select {
		case errs <- err:
		case <-b.ctx.Done():
		}
	}
	idle := 0 // sources opened since the last stream was sent
	for i := 0; i < len(spans); {
		if src == nil {
			if idle++; idle > 3 {
				sendErr(fmt.Errorf("blob %s, range %d-%d: %w: no response serves it", b.digest, spans[i].off, spans[i].end-1, ErrBadResponse))
				return
			}
			var err error
			if src, err = b.open(spans[i:], false); err != nil {
				sendErr(err)
				return
			}
		}
		r, err := src.next(spans[i])
		if errors.Is(err, errReopen) {
			src.close()
			src = nil
			continue
		}
		if err != nil {
			// A response that broke between parts: the spans left get a
			// new request (which retries on its own).
			if isTransient(b.ctx, err) {
				src.close()
				src = nil
				if b.reopens.Add(1) > int64(4*b.c.opts.Retries) {
					sendErr(fmt.Errorf("blob %s, range %d-%d: %w", b.digest, spans[i].off, spans[i].end-1, err))
					return
				}
				continue
			}
			sendErr(fmt.Errorf("blob %s, range %d-%d: %w", b.digest, spans[i].off, spans[i].end-1, err))
			return
		}
		idle = 0
		st := newStream(b, spans[i], r)
		select {
		case streams <- st:
		case <-b.ctx.Done():
			return
		}
		select {
		case <-st.done:
		case <-b.ctx.Done():
			return
		}
		if err := st.err(); err != nil {
			// The consumer has the error already; the ranges left are not
			// worth new requests.
			sendErr(err)
			return
		}
		if st.broke() {
			src.close()
			src = nil
		} else {
			src.consumed(r)
		}
		i++
	}
}

// open makes the first request for spans and returns what serves them.
func (b *Blob) open(spans []span, first bool) (partSource, error) {
	b.mu.Lock()
	closed := b.closed
	if f := b.spooled; f != nil {
		b.mu.Unlock()
		return fileSource{f}, nil
	}
	b.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("blob %s: used after Close", b.digest)
	}
	if len(spans) > 1 && !b.c.single.Load() {
		spans = spans[:batch(spans)]
	}
	if len(spans) > 1 && !b.c.single.Load() {
		hdr := rangeHeader(spans)
		resp, err := b.get(b.ctx, hdr)
		if err != nil {
			return nil, fmt.Errorf("blob %s: %w", b.digest, err)
		}
		switch resp.StatusCode {
		case http.StatusPartialContent, http.StatusOK:
			src, err := b.partial(resp, spans, first, hdr)
			if !errors.Is(err, errOtherRange) {
				return src, err
			}
			// A later request answered with another range: distrust
			// multi-range requests and ask for each range alone.
			b.c.switchToSingle(Reason{Status: resp.StatusCode, Detail: "multi-range request answered with other ranges"})
		case http.StatusBadRequest, http.StatusRequestedRangeNotSatisfiable, http.StatusNotImplemented,
			http.StatusRequestHeaderFieldsTooLarge:
			_ = resp.Body.Close()
			b.c.switchToSingle(Reason{Status: resp.StatusCode, Detail: "multi-range request refused"})
		default:
			_ = resp.Body.Close()
			return nil, fmt.Errorf("blob %s: %w", b.digest, b.statusError(resp, hdr))
		}
	}
	return b.openSingle(spans, first)
}

// openSingle serves spans with one request each, the first one made now.
func (b *Blob) openSingle(spans []span, first bool) (partSource, error) {
	hdr := rangeHeader(spans[:1])
	resp, err := b.get(b.ctx, hdr)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", b.digest, err)
	}
	switch resp.StatusCode {
	case http.StatusPartialContent, http.StatusOK:
	case http.StatusBadRequest, http.StatusRequestedRangeNotSatisfiable, http.StatusNotImplemented:
		_ = resp.Body.Close()
		return nil, b.refuse(Reason{Status: resp.StatusCode, Detail: "single-range request refused"})
	default:
		_ = resp.Body.Close()
		return nil, fmt.Errorf("blob %s: %w", b.digest, b.statusError(resp, hdr))
	}
	src, err := b.partial(resp, spans[:1], first, hdr)
	if errors.Is(err, errOtherRange) {
		return nil, b.refuse(Reason{Status: resp.StatusCode, Detail: err.Error()})
	}
	if err != nil {
		return nil, err
	}
	if _, ok := src.(fileSource); ok || len(spans) == 1 {
		return src, nil
	}
	return newPipeline(b, spans, src), nil
}

// errOtherRange: a partial response that does not start with the first
// range asked for.
var errOtherRange = errors.New("partial response with other ranges than requested")

// partial turns a 206 (or 200) response to a request for spans into what
// serves them; it owns resp's body from here on.
func (b *Blob) partial(resp *http.Response, spans []span, first bool, hdr string) (partSource, error) {
	cr := resp.Header.Get("Content-Range")
	if resp.StatusCode == http.StatusOK && cr == "" && len(spans) == 1 && spans[0] == (span{0, b.size}) {
		// The whole blob was asked for (convert_images): a 200 is the answer.
		return &bodySource{body: resp.Body, cur: spans[0], pos: 0}, nil
	}
	if resp.StatusCode == http.StatusOK && cr == "" {
		// The whole blob. At the start of a pull an ordinary download is
		// cheaper than anything else: stop reading now, and park the body
		// for that download to continue, so the blob crosses the wire once.
		// Later in a pull, keep it for the ranges still to come.
		if first {
			b.mu.Lock()
			if b.parked == nil && !b.closed {
				b.parked = resp
			} else {
				_ = resp.Body.Close()
			}
			b.mu.Unlock()
			return nil, b.refuse(Reason{Status: resp.StatusCode, Detail: "range request answered with the whole blob"})
		}
		return b.spool(resp)
	}
	if mt, boundary, ok := multipartBoundary(resp.Header.Get("Content-Type")); ok {
		_ = mt
		return newMultipartSource(b, resp.Body, boundary, spans[len(spans)-1].end), nil
	}
	if cr == "" {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("blob %s: %w: %s without Content-Range", b.digest, ErrBadResponse, resp.Status)
	}
	got, total, err := contentRange(cr)
	if err != nil {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("blob %s: %w", b.digest, err)
	}
	if total >= 0 && total != b.size {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("blob %s: %w: Content-Range %q, but the blob has %d bytes", b.digest, ErrBadResponse, cr, b.size)
	}
	if got.off > spans[0].off || got.end < spans[0].end {
		_ = resp.Body.Close()
		err := fmt.Errorf("%w: asked for %s, got %q", errOtherRange, hdr, cr)
		if first {
			return nil, b.refuse(Reason{Status: resp.StatusCode, Detail: err.Error()})
		}
		return nil, err
	}
	return &bodySource{body: resp.Body, cur: got, pos: got.off}, nil
}

// spool keeps a whole blob sent in the middle of a pull, verified, and
// serves every later range from it.
func (b *Blob) spool(resp *http.Response) (partSource, error) {
	b.spoolMu.Lock()
	defer b.spoolMu.Unlock()
	b.mu.Lock()
	have := b.spooled
	b.mu.Unlock()
	if have != nil {
		_ = resp.Body.Close()
		return fileSource{have}, nil
	}
	f, err := spool.Open(b.c.opts.TempDir)
	if err != nil {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("blob %s: spooling the whole blob: %w", b.digest, err)
	}
	if err := b.download(b.ctx, resp, f); err != nil {
		_ = f.Close()
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		_ = f.Close()
		return nil, fmt.Errorf("blob %s: used after Close", b.digest)
	}
	b.spooled = f
	return fileSource{f}, nil
}

func isTransient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	return !errors.Is(err, ErrBadResponse) && !errors.Is(err, ErrRangesUnusable)
}
