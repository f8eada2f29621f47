package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"sync"
)

// partSource serves the spans of one GetBlobAt call in order from one
// response (or, for a pipeline, several).
type partSource interface {
	// next returns a reader of exactly sp's bytes; errReopen if this source
	// cannot serve sp (the producer then opens a new one).
	next(sp span) (io.Reader, error)
	// consumed: the stream reading r is done without breaking.
	consumed(r io.Reader)
	close()
}

// errReopen: the current response cannot serve the next span.
var errReopen = errors.New("response cannot serve this range")

// skipLimit: a stream left with more than this unread is not read through
// to reach the next range; a new request is cheaper.
const skipLimit = 256 << 10

// bodySource is a single-part partial response covering cur.
type bodySource struct {
	body io.ReadCloser
	cur  span
	pos  int64
	dead bool
}

func (s *bodySource) next(sp span) (io.Reader, error) {
	if s.dead || sp.off < s.pos || sp.end > s.cur.end {
		return nil, errReopen
	}
	if _, err := io.CopyN(io.Discard, s.body, sp.off-s.pos); err != nil {
		s.dead = true
		return nil, fmt.Errorf("skipping to offset %d: %w", sp.off, err)
	}
	s.pos = sp.end
	return &io.LimitedReader{R: s.body, N: sp.len()}, nil
}

func (s *bodySource) consumed(r io.Reader) { s.dead = s.dead || !skipRest(r) }

func (s *bodySource) close() { _ = s.body.Close() }

// skipRest reads what a stream left of its range, if little enough.
func skipRest(r io.Reader) bool {
	lr, ok := r.(*io.LimitedReader)
	if !ok || lr.N == 0 {
		return true
	}
	if lr.N > skipLimit {
		return false
	}
	_, err := io.Copy(io.Discard, lr)
	return err == nil && lr.N == 0
}

// multipartBoundary returns the boundary of a multipart/byteranges type.
func multipartBoundary(contentType string) (string, string, bool) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.EqualFold(mt, "multipart/byteranges") || params["boundary"] == "" {
		return "", "", false
	}
	return mt, params["boundary"], true
}

// multipartSource is a multipart/byteranges response; a part may cover
// several consecutive ranges (servers may coalesce them).
type multipartSource struct {
	b    *Blob
	end  int64 // the end of the last range requested
	body io.ReadCloser
	mr   *multipart.Reader
	part *multipart.Part
	cur  span
	pos  int64
	dead bool
}

func newMultipartSource(b *Blob, body io.ReadCloser, boundary string, end int64) *multipartSource {
	return &multipartSource{b: b, end: end, body: body, mr: multipart.NewReader(body, boundary)}
}

func (s *multipartSource) next(sp span) (io.Reader, error) {
	if s.dead || sp.off >= s.end {
		return nil, errReopen // the next batch of ranges
	}
	for s.part == nil || sp.off >= s.cur.end {
		p, err := s.mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: multipart response ended before range %d-%d", ErrBadResponse, sp.off, sp.end-1)
		}
		if err != nil {
			s.dead = true
			return nil, fmt.Errorf("reading the next part: %w", err)
		}
		cr, total, err := contentRange(p.Header.Get("Content-Range"))
		if err != nil {
			return nil, err
		}
		if total >= 0 && total != s.b.size {
			return nil, fmt.Errorf("%w: part Content-Range %q, but the blob has %d bytes", ErrBadResponse, p.Header.Get("Content-Range"), s.b.size)
		}
		s.part, s.cur, s.pos = p, cr, cr.off
	}
	if sp.off < s.pos || sp.end > s.cur.end {
		return nil, fmt.Errorf("%w: part %d-%d does not hold range %d-%d", ErrBadResponse, s.cur.off, s.cur.end-1, sp.off, sp.end-1)
	}
	if _, err := io.CopyN(io.Discard, s.part, sp.off-s.pos); err != nil {
		s.dead = true
		return nil, fmt.Errorf("skipping to offset %d: %w", sp.off, err)
	}
	s.pos = sp.end
	return &io.LimitedReader{R: s.part, N: sp.len()}, nil
}

func (s *multipartSource) consumed(r io.Reader) { s.dead = s.dead || !skipRest(r) }

func (s *multipartSource) close() { _ = s.body.Close() }

// fileSource serves ranges from the spooled blob.
type fileSource struct{ f *os.File }

func (s fileSource) next(sp span) (io.Reader, error) {
	return io.NewSectionReader(s.f, sp.off, sp.len()), nil
}
func (fileSource) consumed(io.Reader) {}
func (fileSource) close()             {}

// pipeline serves spans with one single-range request each, at most
// Parallel of them open at once (made ahead of the consumer, read in order).
type pipeline struct {
	b       *Blob
	spans   []span
	idx     int
	cur     partSource
	results []chan result
	sem     chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type result struct {
	src partSource
	err error
}

func newPipeline(b *Blob, spans []span, first partSource) *pipeline {
	ctx, cancel := context.WithCancel(b.ctx)
	p := &pipeline{
		b: b, spans: spans, results: make([]chan result, len(spans)),
		sem: make(chan struct{}, b.c.opts.Parallel), ctx: ctx, cancel: cancel,
	}
	for i := range p.results {
		p.results[i] = make(chan result, 1)
	}
	p.sem <- struct{}{}
	p.results[0] <- result{src: first}
	p.wg.Add(1)
	go p.launch()
	return p
}

func (p *pipeline) launch() {
	defer p.wg.Done()
	for k := 1; k < len(p.spans); k++ {
		select {
		case p.sem <- struct{}{}:
		case <-p.ctx.Done():
			return
		}
		p.wg.Add(1)
		go func(k int) {
			defer p.wg.Done()
			src, err := p.fetch(p.spans[k])
			p.results[k] <- result{src, err}
		}(k)
	}
}

func (p *pipeline) fetch(sp span) (partSource, error) {
	b := p.b
	hdr := rangeHeader([]span{sp})
	resp, err := b.get(p.ctx, hdr)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusPartialContent, http.StatusOK:
		src, err := b.partial(resp, []span{sp}, false, hdr)
		if errors.Is(err, errOtherRange) {
			return nil, b.refuse(Reason{Status: resp.StatusCode, Detail: err.Error()})
		}
		return src, err
	case http.StatusBadRequest, http.StatusRequestedRangeNotSatisfiable, http.StatusNotImplemented:
		_ = resp.Body.Close()
		return nil, b.refuse(Reason{Status: resp.StatusCode, Detail: "single-range request refused"})
	default:
		_ = resp.Body.Close()
		return nil, b.statusError(resp, hdr)
	}
}

func (p *pipeline) next(sp span) (io.Reader, error) {
	if p.cur != nil {
		p.cur.close()
		p.cur = nil
		<-p.sem
	}
	if p.idx >= len(p.spans) || p.spans[p.idx] != sp {
		return nil, errReopen
	}
	var res result
	select {
	case res = <-p.results[p.idx]:
	case <-p.ctx.Done():
		return nil, context.Cause(p.ctx)
	}
	p.idx++
	if res.err != nil {
		<-p.sem
		return nil, res.err
	}
	p.cur = res.src
	return res.src.next(sp)
}

func (p *pipeline) consumed(io.Reader) {}

func (p *pipeline) close() {
	p.cancel()
	p.wg.Wait()
	if p.cur != nil {
		p.cur.close()
		p.cur = nil
	}
	for _, ch := range p.results[p.idx:] {
		select {
		case r := <-ch:
			if r.src != nil {
				r.src.close()
			}
		default:
		}
	}
}
