package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/blobstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.podman.io/storage/pkg/chunked"
)

func testOptions() Options {
	return Options{Backoff: time.Millisecond, IdleTimeout: 2 * time.Second, TempDir: ""}
}

func newTestBlob(t *testing.T, f *faultServer, o Options) (*Client, *Blob) {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	o.Transport = tr
	c := NewClient(f.url(), o)
	b := c.Blob(t.Context(), blobDigest(f.blob), int64(len(f.blob)))
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return c, b
}

// fetch asks for chunks and reads every stream to its end.
func fetch(t *testing.T, b *Blob, chunks []chunked.ImageSourceChunk) ([][]byte, error) {
	t.Helper()
	streams, errs, err := b.GetBlobAt(chunks)
	if err != nil {
		return nil, err
	}
	resp := blobstream.New(streams, errs, len(chunks))
	var out [][]byte
	for range chunks {
		st, err := resp.Next(t.Context())
		if err != nil {
			resp.Abandon()
			return out, err
		}
		data, err := io.ReadAll(st)
		_ = st.Close()
		if err != nil {
			resp.Abandon()
			return out, err
		}
		out = append(out, data)
	}
	return out, resp.Finish(t.Context())
}

func want(blob []byte, chunks []chunked.ImageSourceChunk) [][]byte {
	var out [][]byte
	for _, c := range chunks {
		end := c.Offset + c.Length
		if c.Length == math.MaxUint64 {
			end = uint64(len(blob))
		}
		out = append(out, blob[c.Offset:end])
	}
	return out
}

var threeRanges = []chunked.ImageSourceChunk{{Offset: 10, Length: 100}, {Offset: 5000, Length: 20000}, {Offset: 900000, Length: math.MaxUint64}}

func requested(chunks []chunked.ImageSourceChunk, size int) int64 {
	var n int64
	for _, c := range chunks {
		if c.Length == math.MaxUint64 {
			n += int64(size) - int64(c.Offset)
		} else {
			n += int64(c.Length)
		}
	}
	return n
}

// requireNoLeak waits until no goroutine of this package is left.
func requireNoLeak(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		var leaked []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "internal/registry.(*") && !strings.Contains(g, "_test.go") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines leaked:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMultiRangeServedInOneRequest(t *testing.T) {
	blob := randomBlob(1 << 20)
	f := newFaultServer(t, blob, quirkNone)
	c, b := newTestBlob(t, f, testOptions())
	got, err := fetch(t, b, threeRanges)
	require.NoError(t, err)
	assert.Equal(t, want(blob, threeRanges), got)
	assert.EqualValues(t, 1, f.requests.Load())
	st := b.Stats()
	assert.EqualValues(t, 1, st.Requests)
	assert.EqualValues(t, 1, st.Calls)
	assert.Equal(t, b.Fetched(), st.BytesFetched)
	assert.Equal(t, c.Stats().BytesFetched, st.BytesFetched)
	single, _ := c.SingleRanges()
	assert.False(t, single)
	// Multipart framing is small next to the ranges.
	assert.Less(t, b.Fetched(), requested(threeRanges, len(blob))+1024)
	requireNoLeak(t)
}

// 501, 416 and 400 to a multi-range request: the same call is served with
// single ranges, and the client never sends a multi-range request again.
func TestMultiRangeRefusedSwitchesToSingleRanges(t *testing.T) {
	for name, q := range map[string]quirk{"501": quirkMulti501, "416": quirkMulti416, "400": quirkMulti400} {
		t.Run(name, func(t *testing.T) {
			blob := randomBlob(1 << 20)
			f := newFaultServer(t, blob, q)
			c, b := newTestBlob(t, f, testOptions())
			got, err := fetch(t, b, threeRanges)
			require.NoError(t, err)
			assert.Equal(t, want(blob, threeRanges), got)
			single, why := c.SingleRanges()
			require.True(t, single)
			assert.Equal(t, name, itoa(int64(why.Status)))
			// Another blob of the same pull goes straight to single ranges.
			b2 := c.Blob(t.Context(), b.digest, b.size)
			got, err = fetch(t, b2, threeRanges)
			require.NoError(t, err)
			assert.Equal(t, want(blob, threeRanges), got)
			seen := f.rangesSeen()
			require.Len(t, seen, 1+3+3)
			assert.Contains(t, seen[0], ",")
			for _, r := range seen[1:] {
				assert.NotContains(t, r, ",")
			}
			_, refused := b.Refused()
			assert.False(t, refused)
			requireNoLeak(t)
		})
	}
}

// 200 with the whole blob on a blob's first request: stop reading at once
// and refuse, so the differ falls back; the ordinary download continues
// that response (one download, not two).
func TestWholeBodyOnFirstRequestRefuses(t *testing.T) {
	blob := randomBlob(8 << 20)
	f := newFaultServer(t, blob, quirkWhole200)
	_, b := newTestBlob(t, f, testOptions())
	_, err := fetch(t, b, threeRanges)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrRangesUnusable)
	var bad chunked.ErrBadRequest
	assert.ErrorAs(t, err, &bad, "the differ falls back on ErrBadRequest")
	r, refused := b.Refused()
	require.True(t, refused)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Less(t, b.Fetched(), int64(len(blob)/10), "the body was not read")

	// Later calls are refused without a request.
	before := f.requests.Load()
	_, _, err = b.GetBlobAt(threeRanges[:1])
	assert.ErrorIs(t, err, ErrRangesUnusable)
	assert.Equal(t, before, f.requests.Load())
	// The ordinary download reads the parked response on: the blob is sent
	// once, in one request.
	var out bytes.Buffer
	require.NoError(t, b.Download(t.Context(), &out))
	assert.Equal(t, blob, out.Bytes())
	assert.EqualValues(t, len(blob), f.sent.Load())
	assert.EqualValues(t, 1, f.requests.Load())
	// Unused, a parked response is closed with its blob.
	f2 := newFaultServer(t, blob, quirkWhole200)
	_, b2 := newTestBlob(t, f2, testOptions())
	_, err = fetch(t, b2, threeRanges)
	require.ErrorIs(t, err, ErrRangesUnusable)
	require.NoError(t, b2.Close())
	requireNoLeak(t)
}

// A registry that starts sending whole blobs mid-pull (cold cache): the
// blob is kept once and every later range comes from it.
func TestWholeBodyLaterIsSpooledOnce(t *testing.T) {
	blob := randomBlob(1 << 20)
	f := newFaultServer(t, blob, quirkWhole200After)
	_, b := newTestBlob(t, f, testOptions())
	got, err := fetch(t, b, threeRanges[:1])
	require.NoError(t, err)
	assert.Equal(t, want(blob, threeRanges[:1]), got)
	for range 3 {
		got, err = fetch(t, b, threeRanges)
		require.NoError(t, err)
		assert.Equal(t, want(blob, threeRanges), got)
	}
	assert.EqualValues(t, 2, f.requests.Load())
	assert.True(t, b.Stats().Spooled)
	assert.Less(t, f.sent.Load(), int64(len(blob))+200)
	requireNoLeak(t)
}

// 200 plus a Content-Range naming exactly the range asked for is a partial
// response with the wrong status; it is used.
func TestContentRange200IsUsed(t *testing.T) {
	blob := randomBlob(1 << 20)
	f := newFaultServer(t, blob, quirkContentRange200)
	_, b := newTestBlob(t, f, testOptions())
	got, err := fetch(t, b, threeRanges[1:2])
	require.NoError(t, err)
	assert.Equal(t, want(blob, threeRanges[1:2]), got)
	_, refused := b.Refused()
	assert.False(t, refused)
	requireNoLeak(t)
}

// 206 with another range than asked for, on the first request: refused.
func TestWrongRangeRefuses(t *testing.T) {
	for _, chunks := range [][]chunked.ImageSourceChunk{threeRanges[1:2], threeRanges} {
		blob := randomBlob(1 << 20)
		f := newFaultServer(t, blob, quirkWrongRange)
		_, b := newTestBlob(t, f, testOptions())
		_, err := fetch(t, b, chunks)
		require.ErrorIs(t, err, ErrRangesUnusable)
		r, refused := b.Refused()
		require.True(t, refused)
		assert.Contains(t, r.Detail, "bytes 0-9")
	}
	requireNoLeak(t)
}

func TestAllRangesRefused(t *testing.T) {
	blob := randomBlob(1 << 20)
	f := newFaultServer(t, blob, quirkAllRanges400)
	_, b := newTestBlob(t, f, testOptions())
	_, err := fetch(t, b, threeRanges)
	var bad chunked.ErrBadRequest
	require.ErrorAs(t, err, &bad)
	r, refused := b.Refused()
	require.True(t, refused)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	requireNoLeak(t)
}

// A connection reset mid-body is resumed from the first missing byte; the
// consumer sees correct bytes and no error.
func TestResetMidBodyResumes(t *testing.T) {
	for name, q := range map[string]quirk{"multipart": quirkNone, "single": quirkMulti501} {
		t.Run(name, func(t *testing.T) {
			blob := randomBlob(1 << 20)
			f := newFaultServer(t, blob, q)
			f.resetAfter = 3000
			f.resets.Store(2)
			_, b := newTestBlob(t, f, testOptions())
			got, err := fetch(t, b, threeRanges)
			require.NoError(t, err)
			assert.Equal(t, want(blob, threeRanges), got)
			assert.Equal(t, int64(0), f.resets.Load(), "both resets happened")
			// Resumed, not restarted: little more than the ranges.
			assert.Less(t, b.Fetched(), requested(threeRanges, len(blob))+16<<10)
			requireNoLeak(t)
		})
	}
}

func TestResetDuringWholeDownloadResumes(t *testing.T) {
	blob := randomBlob(1 << 20)
	f := newFaultServer(t, blob, quirkNone)
	f.resetAfter = 200 << 10
	f.resets.Store(3)
	_, b := newTestBlob(t, f, testOptions())
	var out bytes.Buffer
	require.NoError(t, b.Download(t.Context(), &out))
	assert.Equal(t, blob, out.Bytes())
	assert.Less(t, f.sent.Load(), int64(len(blob))+16<<10)

	// A registry without any ranges: the resume starts over and skips.
	f = newFaultServer(t, blob, quirkAllRanges400)
	f.resetAfter = 300 << 10
	f.resets.Store(1)
	_, b = newTestBlob(t, f, testOptions())
	out.Reset()
	require.NoError(t, b.Download(t.Context(), &out))
	assert.Equal(t, blob, out.Bytes())
	assert.Equal(t, []string{"", "bytes=307200-", ""}, f.rangesSeen())
	requireNoLeak(t)
}

func TestServerErrorsAreRetried(t *testing.T) {
	blob := randomBlob(1 << 20)
	f := newFaultServer(t, blob, quirkNone)
	f.fail5xx.Store(2)
	c, b := newTestBlob(t, f, testOptions())
	got, err := fetch(t, b, threeRanges)
	require.NoError(t, err)
	assert.Equal(t, want(blob, threeRanges), got)
	assert.EqualValues(t, 2, c.Stats().Retries)

	// Past the retry budget the error names the status.
	f.fail5xx.Store(100)
	_, err = fetch(t, c.Blob(t.Context(), b.digest, b.size), threeRanges)
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusServiceUnavailable, se.Code)
	f.fail5xx.Store(0)
	requireNoLeak(t)
}

// A body that stalls longer than the idle timeout is resumed.
func TestSlowBodyIsResumed(t *testing.T) {
	blob := randomBlob(1 << 20)
	f := newFaultServer(t, blob, quirkNone)
	f.slow, f.slowAfter = 2*time.Second, 1000
	f.slowN.Store(1)
	o := testOptions()
	o.IdleTimeout = 200 * time.Millisecond
	_, b := newTestBlob(t, f, o)
	start := time.Now()
	got, err := fetch(t, b, threeRanges)
	require.NoError(t, err)
	assert.Equal(t, want(blob, threeRanges), got)
	assert.Less(t, time.Since(start), 2*time.Second, "did not wait for the stalled body")
	requireNoLeak(t)
}

// Cancelling the blob's context ends a blocked read and every goroutine.
func TestCancellation(t *testing.T) {
	blob := randomBlob(1 << 20)
	f := newFaultServer(t, blob, quirkMulti501)
	f.slow, f.slowAfter = 5*time.Second, 10
	f.slowN.Store(100)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	o := testOptions()
	o.Transport = tr
	o.IdleTimeout = time.Minute
	c := NewClient(f.url(), o)
	ctx, cancel := context.WithCancel(t.Context())
	b := c.Blob(ctx, blobDigest(blob), int64(len(blob)))
	defer b.Close()
	streams, errs, err := b.GetBlobAt(threeRanges)
	require.NoError(t, err)
	st := <-streams
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	start := time.Now()
	_, err = io.ReadAll(st)
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 3*time.Second)
	_ = st.Close()
	blobstream.New(streams, errs, 3).Abandon()
	_, _, err = b.GetBlobAt(threeRanges)
	require.ErrorIs(t, err, context.Canceled)
	requireNoLeak(t)
}

// A consumer that closes streams without reading them all lets the
// producer go on, and the next range is still right.
func TestStreamsClosedEarly(t *testing.T) {
	blob := randomBlob(1 << 20)
	for name, q := range map[string]quirk{"multipart": quirkNone, "single": quirkMulti501} {
		t.Run(name, func(t *testing.T) {
			f := newFaultServer(t, blob, q)
			_, b := newTestBlob(t, f, testOptions())
			streams, errs, err := b.GetBlobAt(threeRanges)
			require.NoError(t, err)
			resp := blobstream.New(streams, errs, 3)
			st, err := resp.Next(t.Context())
			require.NoError(t, err)
			buf := make([]byte, 10)
			_, err = io.ReadFull(st, buf)
			require.NoError(t, err)
			require.NoError(t, st.Close())
			st, err = resp.Next(t.Context())
			require.NoError(t, err)
			got, err := io.ReadAll(st)
			require.NoError(t, err)
			assert.Equal(t, want(blob, threeRanges)[1], got)
			_ = st.Close()
			require.NoError(t, resp.Finish(t.Context()))
			requireNoLeak(t)
		})
	}
}

func TestBadRequestsFailBeforeIO(t *testing.T) {
	blob := randomBlob(1000)
	f := newFaultServer(t, blob, quirkNone)
	_, b := newTestBlob(t, f, testOptions())
	for _, chunks := range [][]chunked.ImageSourceChunk{
		nil,
		{{Offset: 1000, Length: 1}},
		{{Offset: 10, Length: 10}, {Offset: 5, Length: 1}},
		{{Offset: 10, Length: math.MaxUint64}, {Offset: 500, Length: 1}},
		{{Offset: 990, Length: 11}},
	} {
		_, _, err := b.GetBlobAt(chunks)
		require.Error(t, err)
	}
	assert.Zero(t, f.requests.Load())
}

func TestDownloadVerifiesDigest(t *testing.T) {
	blob := randomBlob(1000)
	f := newFaultServer(t, blob, quirkNone)
	c, _ := newTestBlob(t, f, testOptions())
	other := c.Blob(t.Context(), blobDigest([]byte("other")), int64(len(blob)))
	err := other.Download(t.Context(), io.Discard)
	require.ErrorIs(t, err, ErrBadResponse)
	assert.True(t, errors.Is(err, ErrBadResponse))
}

// A request for the whole blob (convert_images) answered with 200 is served,
// not refused.
func TestWholeBlobRangeAnsweredWith200(t *testing.T) {
	blob := randomBlob(1 << 20)
	f := newFaultServer(t, blob, quirkWhole200)
	_, b := newTestBlob(t, f, testOptions())
	whole := []chunked.ImageSourceChunk{{Offset: 0, Length: uint64(len(blob))}}
	got, err := fetch(t, b, whole)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{blob}, got)
	_, refused := b.Refused()
	assert.False(t, refused)
	requireNoLeak(t)
}

// Thousands of ranges are sent in batches whose Range header stays under
// what proxies accept; every range still arrives in order.
func TestManyRangesAreBatched(t *testing.T) {
	blob := randomBlob(1 << 20)
	f := newFaultServer(t, blob, quirkNone)
	_, b := newTestBlob(t, f, testOptions())
	var chunks []chunked.ImageSourceChunk
	for off := uint64(0); off+7 < uint64(len(blob)); off += 500 {
		chunks = append(chunks, chunked.ImageSourceChunk{Offset: off, Length: 7})
	}
	got, err := fetch(t, b, chunks)
	require.NoError(t, err)
	assert.Equal(t, want(blob, chunks), got)
	seen := f.rangesSeen()
	assert.Greater(t, len(seen), 1)
	for _, r := range seen {
		assert.LessOrEqual(t, len(r), maxRangeHeader+len("18446744073709551615-18446744073709551615,"))
	}
	requireNoLeak(t)
}

// A server that coalesces the ranges asked into one part covering them.
func TestCoalescedRanges(t *testing.T) {
	blob := randomBlob(1 << 20)
	f := newFaultServer(t, blob, quirkNone)
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Range"), ",") {
			r.Header.Set("Range", "bytes=0-30000")
		}
		f.ServeHTTP(w, r)
	})
	_, b := newTestBlob(t, f, testOptions())
	chunks := []chunked.ImageSourceChunk{{Offset: 10, Length: 100}, {Offset: 5000, Length: 20000}}
	got, err := fetch(t, b, chunks)
	require.NoError(t, err)
	assert.Equal(t, want(blob, chunks), got)
	requireNoLeak(t)
}

// A range that cannot be resumed (every attempt resets at once) fails the
// read, and the producer stops instead of requesting the ranges left.
func TestResumeGivesUp(t *testing.T) {
	blob := randomBlob(1 << 20)
	f := newFaultServer(t, blob, quirkMulti501)
	f.resetAfter = 1
	f.resets.Store(1000)
	o := testOptions()
	o.Retries = 2
	_, b := newTestBlob(t, f, o)
	_, err := fetch(t, b, threeRanges)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broke")
	assert.Less(t, f.requests.Load(), int64(30), "no request per range left")
	requireNoLeak(t)
}

// Another range than asked for, after ranges worked: multi-range requests
// are distrusted (single ranges from then on); when single ranges are wrong
// too, the blob is refused, so the caller downloads it whole.
func TestWrongRangeLater(t *testing.T) {
	blob := randomBlob(1 << 20)
	f := newFaultServer(t, blob, quirkWrongRangeAfter)
	c, b := newTestBlob(t, f, testOptions())
	got, err := fetch(t, b, threeRanges[:1])
	require.NoError(t, err)
	assert.Equal(t, want(blob, threeRanges[:1]), got)
	_, err = fetch(t, b, threeRanges)
	require.ErrorIs(t, err, ErrRangesUnusable)
	single, why := c.SingleRanges()
	assert.True(t, single)
	assert.Contains(t, why.Detail, "other ranges")
	_, refused := b.Refused()
	assert.True(t, refused)
	requireNoLeak(t)
}
