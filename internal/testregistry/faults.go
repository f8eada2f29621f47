package testregistry

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Quirk is how blob range requests are answered.
type Quirk int

const (
	// None: the registry's own answers (206, multipart/byteranges).
	None Quirk = iota
	// Multi501: 501 to multi-range requests (GHCR).
	Multi501
	// Multi416: 416 to multi-range requests (zot#3623).
	Multi416
	// Multi400: 400 to multi-range requests.
	Multi400
	// Whole200: 200 and the whole blob to every range request (S3-backed
	// registries, some mirrors; containers/image#2792).
	Whole200
	// ContentRange200: 200 with the Content-Range of a 206 (Dragonfly).
	ContentRange200
	// WrongRange: 206 with another range than asked for.
	WrongRange
	// ColdCache: the first range request of each blob gets the whole
	// blob with 200, later ones work (distribution#4667).
	ColdCache
	// NoRanges: every range request gets 400.
	NoRanges
	// RefuseLater: the first range request of each blob works, later
	// ones get 400 (ranges refused in the middle of a layer).
	RefuseLater
)

var quirkNames = map[Quirk]string{
	None: "multi-range", Multi501: "501 on multi-range", Multi416: "416 on multi-range", Multi400: "400 on multi-range",
	Whole200: "200 whole blob", ContentRange200: "200 + Content-Range", WrongRange: "206 other range",
	ColdCache: "200 whole blob on first request (cold cache)", NoRanges: "400 on every range",
	RefuseLater: "400 on ranges after the first",
}

func (q Quirk) String() string { return quirkNames[q] }

// Faults alters blob GETs; safe to change between requests.
type Faults struct {
	mu    sync.Mutex
	quirk Quirk
	// resets: the next n blob responses with a body are cut after
	// resetAfter bytes (connection closed).
	resets     int
	resetAfter int
	// stalls: the next n blob responses stop for stall after stallAfter bytes.
	stalls     int
	stallAfter int
	stall      time.Duration
	// fail5xx: the next n blob requests get 503.
	fail5xx int

	seen map[string]bool // blob paths requested with a range (ColdCache)

	BlobBytes    atomic.Int64 // body bytes sent for blob GETs
	BlobRequests atomic.Int64
	RangeHeaders []string
}

// Set chooses the quirk and clears scripted failures and counters.
func (f *Faults) Set(q Quirk) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.quirk, f.resets, f.stalls, f.fail5xx, f.seen, f.RangeHeaders = q, 0, 0, 0, nil, nil
	f.BlobBytes.Store(0)
	f.BlobRequests.Store(0)
}

// Reset cuts the next n blob bodies after `after` bytes.
func (f *Faults) Reset(n, after int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resets, f.resetAfter = n, after
}

// Stall stops the next n blob bodies for d after `after` bytes.
func (f *Faults) Stall(n, after int, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stalls, f.stallAfter, f.stall = n, after, d
}

// Fail5xx answers the next n blob requests with 503.
func (f *Faults) Fail5xx(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail5xx = n
}

// Ranges returns the Range headers of blob GETs so far.
func (f *Faults) Ranges() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.RangeHeaders...)
}

func (f *Faults) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/sha256:") {
			next.ServeHTTP(w, r)
			return
		}
		f.BlobRequests.Add(1)
		rng := r.Header.Get("Range")
		f.mu.Lock()
		f.RangeHeaders = append(f.RangeHeaders, rng)
		q := f.quirk
		fail := f.fail5xx > 0
		if fail {
			f.fail5xx--
		}
		// Scripted breaks are used up only when a body is long enough to
		// be broken.
		var out func(io.Writer) io.Writer
		switch {
		case f.resets > 0:
			after := f.resetAfter
			out = func(wr io.Writer) io.Writer { return &resetWriter{w: wr, rw: w, left: after, f: f} }
		case f.stalls > 0:
			after, d := f.stallAfter, f.stall
			out = func(wr io.Writer) io.Writer {
				return &stallWriter{w: wr, rw: w, after: after, d: d, f: f, done: r.Context().Done()}
			}
		}
		firstForBlob := false
		if (q == ColdCache || q == RefuseLater) && rng != "" {
			if f.seen == nil {
				f.seen = map[string]bool{}
			}
			firstForBlob = !f.seen[r.URL.Path]
			f.seen[r.URL.Path] = true
		}
		f.mu.Unlock()
		if fail {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		multi := strings.Contains(rng, ",")
		switch {
		case q == Multi501 && multi:
			http.Error(w, "multi-range requests not implemented", http.StatusNotImplemented)
			return
		case q == Multi416 && multi:
			http.Error(w, "range not satisfiable", http.StatusRequestedRangeNotSatisfiable)
			return
		case q == Multi400 && multi:
			http.Error(w, "bad range", http.StatusBadRequest)
			return
		case q == NoRanges && rng != "":
			http.Error(w, "ranges not supported", http.StatusBadRequest)
			return
		case q == RefuseLater && rng != "" && !firstForBlob:
			http.Error(w, "ranges not supported", http.StatusBadRequest)
			return
		case q == Whole200 && rng != "", q == ColdCache && firstForBlob:
			r.Header.Del("Range")
		case q == WrongRange && rng != "":
			r.Header.Set("Range", "bytes=0-9")
		}
		var body io.Writer = &counter{w: w, n: &f.BlobBytes}
		if out != nil {
			body = out(body)
		}
		if q == ContentRange200 && rng != "" && !multi {
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			status := rec.Code
			if status == http.StatusPartialContent {
				status = http.StatusOK
			}
			w.WriteHeader(status)
			_, _ = io.Copy(body, bytes.NewReader(rec.Body.Bytes()))
			return
		}
		next.ServeHTTP(&bodyWriter{ResponseWriter: w, out: body}, r)
	})
}

type bodyWriter struct {
	http.ResponseWriter
	out io.Writer
}

func (b *bodyWriter) Write(p []byte) (int, error) { return b.out.Write(p) }

// Unwrap lets http.ResponseController reach the connection.
func (b *bodyWriter) Unwrap() http.ResponseWriter { return b.ResponseWriter }

type counter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

type resetWriter struct {
	w    io.Writer
	rw   http.ResponseWriter
	left int
	f    *Faults
	cut  bool
}

// take uses up one scripted break, if any is left.
func take(f *Faults, n *int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if *n <= 0 {
		return false
	}
	*n--
	return true
}

func (r *resetWriter) Write(p []byte) (int, error) {
	if r.cut {
		// The connection is gone; let the handler finish as if all went
		// out (net/http's multipart writer and distribution's file reader
		// race if the handler returns while the part goroutine reads).
		return len(p), nil
	}
	if r.left < 0 || len(p) <= r.left {
		r.left -= len(p)
		return r.w.Write(p)
	}
	if !take(r.f, &r.f.resets) {
		r.left = -1 // none left: pass through
		return r.w.Write(p)
	}
	n, _ := r.w.Write(p[:r.left])
	r.left = 0
	if fl, ok := r.rw.(http.Flusher); ok {
		fl.Flush()
	}
	if conn, _, err := http.NewResponseController(r.rw).Hijack(); err == nil {
		_ = conn.Close()
	}
	r.cut = true
	_ = n
	return len(p), nil
}

type stallWriter struct {
	w       io.Writer
	rw      http.ResponseWriter
	after   int
	d       time.Duration
	f       *Faults
	done    <-chan struct{} // the request's context
	stalled bool
}

func (s *stallWriter) Write(p []byte) (int, error) {
	if s.stalled || len(p) <= s.after {
		s.after -= len(p)
		return s.w.Write(p)
	}
	s.stalled = true
	if !take(s.f, &s.f.stalls) {
		return s.w.Write(p)
	}
	n, err := s.w.Write(p[:s.after])
	if fl, ok := s.rw.(http.Flusher); ok {
		fl.Flush()
	}
	t := time.NewTimer(s.d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.done:
		return n, io.ErrClosedPipe
	}
	if err != nil {
		return n, err
	}
	m, err := s.w.Write(p[s.after:])
	return n + m, err
}
