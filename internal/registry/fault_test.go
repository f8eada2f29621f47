package registry

import (
	"bytes"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// quirk is how the fault server answers a blob request.
type quirk int

const (
	quirkNone            quirk = iota
	quirkMulti501              // 501 to multi-range requests (GHCR)
	quirkMulti416              // 416 to multi-range requests (zot)
	quirkMulti400              // 400 to multi-range requests
	quirkWhole200              // 200 with the whole blob to any range request (S3-backed, mirrors)
	quirkWhole200After         // ranges work for the first request, then 200 whole (cold cache)
	quirkContentRange200       // 200 with a correct Content-Range and only the range (Dragonfly)
	quirkWrongRange            // 206 with another range than asked for
	quirkAllRanges400          // every range request refused
	quirkWrongRangeAfter       // ranges work for the first request, then 206 with another range
)

// faultServer serves one blob with a quirk plus scripted failures.
type faultServer struct {
	t    testing.TB
	blob []byte
	q    quirk
	// resetAfter > 0: the first resets responses carrying a body are cut
	// after that many bytes by closing the connection.
	resetAfter int
	resets     atomic.Int64
	// fail5xx: the first n requests get 503.
	fail5xx atomic.Int64
	// slow: the first slowN bodies stop for slow after slowAfter bytes.
	slow      time.Duration
	slowAfter int
	slowN     atomic.Int64

	requests atomic.Int64
	sent     atomic.Int64 // body bytes written
	mu       sync.Mutex
	ranges   []string // Range headers received, "" for none
	srv      *httptest.Server
}

func newFaultServer(t testing.TB, blob []byte, q quirk) *faultServer {
	f := &faultServer{t: t, blob: blob, q: q}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *faultServer) url() string { return f.srv.URL + "/v2/test/img" }

func (f *faultServer) rangesSeen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ranges...)
}

func (f *faultServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.requests.Add(1)
	rng := r.Header.Get("Range")
	f.mu.Lock()
	f.ranges = append(f.ranges, rng)
	f.mu.Unlock()
	if f.fail5xx.Load() > 0 && f.fail5xx.Add(-1) >= 0 {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	multi := strings.Contains(rng, ",")
	switch {
	case f.q == quirkMulti501 && multi:
		http.Error(w, "multi-range not implemented", http.StatusNotImplemented)
		return
	case f.q == quirkMulti416 && multi:
		http.Error(w, "multi-range", http.StatusRequestedRangeNotSatisfiable)
		return
	case f.q == quirkMulti400 && multi:
		http.Error(w, "bad range", http.StatusBadRequest)
		return
	case f.q == quirkAllRanges400 && rng != "":
		http.Error(w, "no ranges", http.StatusBadRequest)
		return
	case f.q == quirkWhole200 && rng != "", f.q == quirkWhole200After && rng != "" && n > 1:
		r.Header.Del("Range")
	case f.q == quirkWrongRange && rng != "", f.q == quirkWrongRangeAfter && rng != "" && n > 1:
		r.Header.Set("Range", "bytes=0-9")
	}
	var out io.Writer = &countingWriter{w: w, n: &f.sent}
	if f.resetAfter > 0 && f.resets.Load() > 0 && f.resets.Add(-1) >= 0 {
		out = &resetWriter{w: out, rw: w, left: f.resetAfter}
	} else if f.slow > 0 && f.slowN.Load() > 0 && f.slowN.Add(-1) >= 0 {
		out = &slowWriter{w: out, rw: w, after: f.slowAfter, d: f.slow}
	}
	if f.q == quirkContentRange200 && rng != "" && !multi {
		rec := httptest.NewRecorder()
		http.ServeContent(rec, r, "", time.Time{}, bytes.NewReader(f.blob))
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(http.StatusOK)
		_, _ = out.Write(rec.Body.Bytes())
		return
	}
	http.ServeContent(&writerWith{ResponseWriter: w, out: out}, r, "", time.Time{}, bytes.NewReader(f.blob))
}

type writerWith struct {
	http.ResponseWriter
	out io.Writer
}

func (w *writerWith) Write(p []byte) (int, error) { return w.out.Write(p) }

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// resetWriter writes left bytes, then closes the connection under the
// response (the client sees a reset or an unexpected EOF).
type resetWriter struct {
	w    io.Writer
	rw   http.ResponseWriter
	left int
}

func (r *resetWriter) Write(p []byte) (int, error) {
	if len(p) <= r.left {
		r.left -= len(p)
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
	return n, io.ErrClosedPipe
}

// slowWriter stalls once for d after writing after bytes.
type slowWriter struct {
	w     io.Writer
	rw    http.ResponseWriter
	after int
	d     time.Duration
	done  bool
}

func (s *slowWriter) Write(p []byte) (int, error) {
	if s.done || len(p) <= s.after {
		s.after -= len(p)
		return s.w.Write(p)
	}
	n, err := s.w.Write(p[:s.after])
	if fl, ok := s.rw.(http.Flusher); ok {
		fl.Flush()
	}
	s.done = true
	time.Sleep(s.d)
	if err != nil {
		return n, err
	}
	m, err := s.w.Write(p[s.after:])
	return n + m, err
}

func randomBlob(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(b)
	return b
}

func blobDigest(b []byte) digest.Digest { return digest.FromBytes(b) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
