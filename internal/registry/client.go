package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
)

// Options tune a Client; zero values take the defaults.
type Options struct {
	// Transport performs the requests, authentication included
	// (go-containerregistry's transport.NewWithContext); default
	// http.DefaultTransport.
	Transport http.RoundTripper
	// Parallel is how many single-range requests may be in flight once
	// multi-range requests are refused (default 4).
	Parallel int
	// Retries is how many times one request (or one broken body) is retried
	// after a 5xx, a 429 or a dropped connection (default 4).
	Retries int
	// Backoff is the first retry delay, doubled on each retry (default
	// 250ms).
	Backoff time.Duration
	// IdleTimeout: a response that sends nothing for this long counts as a
	// dropped connection and is resumed (default 30s).
	IdleTimeout time.Duration
	// TempDir is where a blob is spooled if a registry sends it whole in
	// the middle of a partial pull (default os.TempDir()).
	TempDir string
}

func (o Options) withDefaults() Options {
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.Retries < 0 {
		o.Retries = 0
	} else if o.Retries == 0 {
		o.Retries = 4
	}
	if o.Backoff <= 0 {
		o.Backoff = 250 * time.Millisecond
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Second
	}
	return o
}

// Client reads blobs of one repository; it is safe for concurrent use and
// remembers, for the rest of the pull, that multi-range requests failed.
type Client struct {
	repo string // scheme://host/v2/name
	hc   *http.Client
	opts Options

	single     atomic.Bool
	singleOnce sync.Once
	singleWhy  atomic.Pointer[Reason]

	requests atomic.Int64
	retries  atomic.Int64
	bytes    atomic.Int64
}

// NewClient returns a client for the repository whose API root is repoURL
// (scheme://host/v2/name, no trailing slash).
func NewClient(repoURL string, o Options) *Client {
	o = o.withDefaults()
	return &Client{
		repo: strings.TrimSuffix(repoURL, "/"),
		hc:   &http.Client{Transport: o.Transport},
		opts: o,
	}
}

// Stats is what a client did over the whole pull.
type Stats struct {
	Requests     int64   `json:"requests"`
	Retries      int64   `json:"retries"`
	BytesFetched int64   `json:"bytes_fetched"` // response body bytes read
	SingleRanges *Reason `json:"single_ranges,omitempty"`
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{Requests: c.requests.Load(), Retries: c.retries.Load(), BytesFetched: c.bytes.Load(), SingleRanges: c.singleWhy.Load()}
}

// SingleRanges reports whether the client switched to single-range
// requests, and why.
func (c *Client) SingleRanges() (bool, Reason) {
	if r := c.singleWhy.Load(); r != nil {
		return true, *r
	}
	return false, Reason{}
}

func (c *Client) switchToSingle(r Reason) {
	c.singleOnce.Do(func() {
		c.singleWhy.Store(&r)
		c.single.Store(true)
	})
}

// BlobURL is where blob d is served.
func (c *Client) BlobURL(d digest.Digest) string { return c.repo + "/blobs/" + d.String() }

// get sends one GET with the given Range header ("" for none), retrying
// 5xx (but 501), 429 and transport errors with backoff. The response is
// returned for any other status; its body counts into the client's bytes
// (and the blob's, if not nil),
// is bounded by the idle timeout and must be closed.
func (c *Client) get(ctx context.Context, url, rangeHdr string, blob *counters) (*http.Response, error) {
	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			c.retries.Add(1)
			if attempt > c.opts.Retries {
				return nil, fmt.Errorf("giving up after %d attempts: %w", attempt, lastErr)
			}
			if err := sleep(ctx, c.opts.Backoff<<(attempt-1)); err != nil {
				return nil, fmt.Errorf("%w (while retrying after: %v)", err, lastErr)
			}
		}
		resp, err := c.once(ctx, url, rangeHdr, blob)
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			lastErr = err
			continue
		}
		if retryable(resp.StatusCode) {
			_ = resp.Body.Close()
			lastErr = &StatusError{Code: resp.StatusCode, Status: resp.Status, URL: url, Range: rangeHdr}
			continue
		}
		return resp, nil
	}
}

func retryable(code int) bool {
	return code == http.StatusTooManyRequests || (code >= 500 && code != http.StatusNotImplemented)
}

// once sends one request under an idle watchdog: no headers, or no body
// bytes, for IdleTimeout cancels it, and reading then fails.
func (c *Client) once(ctx context.Context, url, rangeHdr string, blob *counters) (*http.Response, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	if rangeHdr != "" {
		req.Header.Set("Range", rangeHdr)
	}
	// Identity: a transparently decompressed body has other offsets.
	req.Header.Set("Accept-Encoding", "identity")
	w := newWatchdog(c.opts.IdleTimeout, cancel)
	c.requests.Add(1)
	var also *atomic.Int64
	if blob != nil {
		blob.requests.Add(1)
		also = &blob.bytes
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		w.stop()
		cancel(nil)
		return nil, err
	}
	w.stop()
	resp.Body = &body{rc: resp.Body, w: w, cancel: cancel, count: &c.bytes, also: also}
	return resp, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// counters are one blob's: requests made and body bytes read.
type counters struct {
	requests atomic.Int64
	bytes    atomic.Int64
}

// errStalled is the cause of a request cancelled by its idle watchdog.
var errStalled = errors.New("no data from the registry within the idle timeout")

// watchdog cancels a request whose registry stays silent for too long.
type watchdog struct {
	t *time.Timer
	d time.Duration
}

func newWatchdog(d time.Duration, cancel context.CancelCauseFunc) *watchdog {
	return &watchdog{d: d, t: time.AfterFunc(d, func() { cancel(errStalled) })}
}

func (w *watchdog) kick() { w.t.Reset(w.d) }
func (w *watchdog) stop() { w.t.Stop() }

// body counts what is read, keeps the watchdog fed and releases the
// request's context on Close.
type body struct {
	rc     io.ReadCloser
	w      *watchdog
	cancel context.CancelCauseFunc
	count  *atomic.Int64
	also   *atomic.Int64 // the blob's own counter, may be nil
	closed atomic.Bool
}

// Read arms the watchdog only while waiting for the registry: a body left
// unread while the consumer is busy is not stalled.
func (b *body) Read(p []byte) (int, error) {
	b.w.kick()
	n, err := b.rc.Read(p)
	b.w.stop()
	if n > 0 {
		b.count.Add(int64(n))
		if b.also != nil {
			b.also.Add(int64(n))
		}
	}
	return n, err
}

func (b *body) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	b.w.stop()
	err := b.rc.Close()
	b.cancel(nil)
	return err
}
