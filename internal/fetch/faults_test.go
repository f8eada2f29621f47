package fetch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/chunkdiff/chunkdiff/formats"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/blobstream"
	"github.com/chunkdiff/chunkdiff/internal/fetch"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/storage/pkg/chunked"
)

var errInjected = errors.New("injected")

// manyRanges makes every chunk its own range and call-worthy.
var manyRanges = fetch.Options{Codec: fetch.Raw, AutoMergeGap: -1, RequestCost: 1}

// checkRequests checks every call's ranges are sorted, non-overlapping
// and at most maxR.
func checkRequests(t testing.TB, src *testutil.Source, maxR int) {
	t.Helper()
	for i, r := range src.Requests() {
		if maxR > 0 && len(r) > maxR {
			t.Errorf("call %d: %d ranges > %d", i, len(r), maxR)
		}
		for k := 1; k < len(r); k++ {
			if r[k].Offset < r[k-1].Offset+r[k-1].Length {
				t.Errorf("call %d: range %d %+v overlaps or precedes %+v", i, k, r[k], r[k-1])
			}
		}
	}
}

func TestFetchRawVariants(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		blob, files, want := rawLayout(seed, 60)
		for _, o := range []fetch.Options{
			{Codec: fetch.Raw},
			{Codec: fetch.Raw, Concurrency: 1, AutoMergeGap: -1},
			{Codec: fetch.Raw, Concurrency: 3, MaxRangesPerRequest: 5, AutoMergeGap: -1, RequestCost: 1},
			{Codec: fetch.Raw, Concurrency: 4, MaxRangesPerRequest: 1, AutoMergeGap: -1, RequestCost: 1},
			{Codec: fetch.Raw, MaxRangesPerRequest: 2, RequestCost: -1},
		} {
			t.Run(fmt.Sprintf("seed%d/%+v", seed, o), func(t *testing.T) {
				leakCheck(t)
				fetchAndCheck(t, testutil.NewSource(blob), files, want, o)
			})
		}
	}
}

// TestFetchStraddle makes one range per call, so files whose data chunks
// are separated by zero runs span calls running concurrently; the file is
// handed from one call to the next.
func TestFetchStraddle(t *testing.T) {
	leakCheck(t)
	blob, files, want := rawLayout(9, 100)
	src := testutil.NewSource(blob)
	sink := newDirSink(t)
	o := fetch.Options{Codec: fetch.Raw, MaxRangesPerRequest: 1, AutoMergeGap: -1, RequestCost: 1, Concurrency: 3}
	if _, err := fetch.Fetch(context.Background(), src, files, sink, o); err != nil {
		t.Fatal(err)
	}
	sink.checkContents(t, files, want)
	checkRequests(t, src, 1)
	// Count files whose data came from more than one call.
	callAt := map[uint64]int{}
	for i, r := range src.Requests() {
		callAt[r[0].Offset] = i
	}
	spanning := 0
	for _, f := range files {
		calls := map[int]bool{}
		for _, c := range f.Chunks {
			if i, ok := callAt[uint64(c.Offset)]; ok && !c.Zeros {
				calls[i] = true
			}
		}
		if len(calls) > 1 {
			spanning++
		}
	}
	if spanning == 0 {
		t.Fatal("no file spans calls")
	}
	t.Logf("%d files span calls", spanning)
}

func TestFetchHalving(t *testing.T) {
	blob, files, want := rawLayout(4, 80)
	for _, c := range []struct {
		name string
		opt  testutil.SourceOption
		maxR int
	}{
		{"RefuseMoreThan3", testutil.RefuseMoreThan(3), 3},
		{"NoMultiRange", testutil.MultiRange(testutil.MultiRangeBadRequest), 1},
		{"FirstCallOnly", testutil.RefuseCall(1), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			leakCheck(t)
			src := testutil.NewSource(blob, c.opt)
			st := fetchHalving(t, src, files, want)
			if st.Requests != src.Calls() {
				t.Errorf("stats %+v, %d calls", st, src.Calls())
			}
			// Every refusal halved once; the others respected the limit.
			if c.maxR > 0 {
				var accepted int
				for _, r := range src.Requests() {
					if len(r) <= c.maxR {
						accepted++
					}
				}
				if st.Requests-st.Halvings != accepted {
					t.Errorf("stats %+v, %d accepted", st, accepted)
				}
			}
			t.Logf("%+v", st)
		})
	}
}

func TestFetchRefused(t *testing.T) {
	leakCheck(t)
	blob, files, _ := rawLayout(5, 40)
	src := testutil.NewSource(blob, testutil.Refuse())
	sink := newDirSink(t)
	o := manyRanges
	o.Concurrency = 1
	st, err := fetch.Fetch(context.Background(), src, files, sink, o)
	var bad chunked.ErrBadRequest
	var re *fetch.RequestError
	if !errors.Is(err, fetch.ErrRangesRefused) || !errors.As(err, &bad) || !errors.As(err, &re) || re.Ranges != 1 {
		t.Fatalf("err %v", err)
	}
	// n ranges → n/2 → … → 1, then fail.
	if st.Halvings == 0 || st.Requests != st.Halvings+1 {
		t.Errorf("stats %+v", st)
	}
	sink.checkAllClosed(t)
	if len(sink.verified()) > len(files) {
		t.Errorf("files verified")
	}
	t.Log(err)
}

// faultCase is a source misbehaviour and what Fetch must report.
type faultCase struct {
	name  string
	opts  []testutil.SourceOption
	check func(error) bool
}

func isErr(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func isFileErr(err error) bool {
	var fe *fetch.FileError
	return errors.As(err, &fe)
}

var faults = []faultCase{
	{"immediate error", []testutil.SourceOption{testutil.FailWith(errInjected)}, isErr(errInjected)},
	{"status error", []testutil.SourceOption{testutil.MultiRange(testutil.MultiRangeNotImplemented)}, func(err error) bool {
		var se *testutil.StatusError
		return errors.As(err, &se)
	}},
	{"error after 0", []testutil.SourceOption{testutil.ErrorAfter(0, errInjected)}, isErr(errInjected)},
	{"error after 2", []testutil.SourceOption{testutil.ErrorAfter(2, errInjected)}, isErr(errInjected)},
	{"error on 2nd call", []testutil.SourceOption{testutil.OnCall(2, testutil.FailWith(errInjected))}, isErr(errInjected)},
	{"fewer streams", []testutil.SourceOption{testutil.StreamLimit(2)}, isErr(fetch.ErrTooFewStreams)},
	{"no streams", []testutil.SourceOption{testutil.StreamLimit(0)}, isErr(fetch.ErrTooFewStreams)},
	{"extra streams", []testutil.SourceOption{testutil.ExtraStreams(2)}, isErr(fetch.ErrTooManyStreams)},
	{"truncated streams", []testutil.SourceOption{testutil.TruncateStreams(-1, 7)}, isErr(fetch.ErrShortStream)},
	{"truncated 2nd stream", []testutil.SourceOption{testutil.TruncateStreams(1, 5000)}, isErr(fetch.ErrShortStream)},
	{"corrupted", []testutil.SourceOption{testutil.CorruptStreams(-1)}, isFileErr},
}

// runFault fetches with a misbehaving source and checks the error, that
// every opened file was closed, that no file was passed as verified with
// wrong contents, and that no goroutine is left behind.
func runFault(t *testing.T, blob []byte, files []fetch.File, want map[string][]byte, o fetch.Options, fc faultCase) {
	leakCheck(t)
	src := testutil.NewSource(blob, fc.opts...)
	sink := newDirSink(t)
	_, err := fetch.Fetch(context.Background(), src, files, sink, o)
	if err == nil || !fc.check(err) {
		t.Fatalf("err = %v", err)
	}
	sink.checkAllClosed(t)
	ok := sink.verified()
	var good []fetch.File
	for i := range files {
		if ok[i] {
			good = append(good, files[i])
		}
	}
	for i, f := range good {
		_ = i
		got, _ := readSinkFile(sink, files, f.Name)
		if !bytes.Equal(got, want[f.Name]) {
			t.Errorf("%s verified with wrong contents", f.Name)
		}
	}
	t.Log(err)
}

func readSinkFile(s *dirSink, files []fetch.File, name string) ([]byte, error) {
	for i, f := range files {
		if f.Name == name {
			return readFile(s.path(i))
		}
	}
	return nil, io.EOF
}

func TestFetchFaultsRaw(t *testing.T) {
	blob, files, want := rawLayout(6, 60)
	o := manyRanges
	o.MaxRangesPerRequest = 10
	for _, fc := range faults {
		if fc.name == "corrupted" {
			continue // junk between chunks may absorb the flip; see TestFetchDigestMismatch
		}
		t.Run(fc.name, func(t *testing.T) { runFault(t, blob, files, want, o, fc) })
	}
}

func TestFetchFaultsZstd(t *testing.T) {
	l, files, want := richZstd(t)
	for _, o := range []fetch.Options{{}, {AutoMergeGap: -1, RequestCost: 1, MaxRangesPerRequest: 4}} {
		for _, fc := range faults {
			t.Run(fmt.Sprintf("%s/%d", fc.name, o.MaxRangesPerRequest), func(t *testing.T) {
				if o.MaxRangesPerRequest == 0 && (fc.name == "error after 2" || fc.name == "fewer streams" ||
					fc.name == "truncated 2nd stream" || fc.name == "error on 2nd call" || fc.name == "status error") {
					t.Skip("one range, one call")
				}
				runFault(t, l.Blob, files, want, o, fc)
			})
		}
	}
}

// TestFetchDigestMismatch: corrupted or lying bytes inside a file's data
// fail with a DigestError naming that file, and the file is not verified.
func TestFetchDigestMismatch(t *testing.T) {
	content := [][]byte{bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte("b"), 3000), bytes.Repeat([]byte("c"), 1000)}
	blob := bytes.Join(content, nil)
	var files []fetch.File
	want := map[string][]byte{}
	var off int64
	for i, c := range content {
		name := fmt.Sprintf("usr/bin/x%d", i)
		files = append(files, fetch.File{Name: name, Size: int64(len(c)), Digest: digest.FromBytes(c),
			Chunks: []fetch.Chunk{{Offset: off, Length: int64(len(c)), Size: int64(len(c))}}})
		want[name] = c
		off += int64(len(c))
	}
	lie := bytes.Clone(blob)
	lie[1500] ^= 1
	for _, fc := range []faultCase{
		{"corrupted", []testutil.SourceOption{testutil.CorruptStreams(-1)}, nil},
		{"lying", []testutil.SourceOption{testutil.Lying(lie)}, nil},
	} {
		fc.check = func(err error) bool {
			var de *fetch.DigestError
			var fe *fetch.FileError
			return errors.As(err, &de) && errors.As(err, &fe) && de.File == "usr/bin/x1" && fe.File == "usr/bin/x1" &&
				de.Chunk == -1 && de.Want == files[1].Digest && de.Got != de.Want
		}
		t.Run(fc.name, func(t *testing.T) { runFault(t, blob, files, want, fetch.Options{Codec: fetch.Raw}, fc) })
	}
	// Chunk digests are checked, as soon as the chunk is done, when no
	// file digest covers the file (with one, the file digest decides: see
	// the cases above, where hashing each chunk too would be wasted work).
	files[1].Chunks = []fetch.Chunk{
		{Offset: 1000, Length: 1000, Size: 1000, Digest: digest.FromBytes(content[1][:1000])},
		{Offset: 2000, Length: 2000, Size: 2000, Digest: digest.FromBytes(content[1][1000:])},
	}
	files[1].Digest = ""
	runFault(t, blob, files, want, fetch.Options{Codec: fetch.Raw}, faultCase{"chunk", []testutil.SourceOption{testutil.Lying(lie)},
		func(err error) bool {
			var de *fetch.DigestError
			return errors.As(err, &de) && de.File == "usr/bin/x1" && de.Chunk == 0
		}})
}

// TestFetchLyingLayer serves valid zstd frames of the wrong file: file a's
// range starts with file b's frames (b's range fits in
// a's and decodes to at least a's size). Decoding succeeds; only the digest
// can catch it.
func TestFetchLyingLayer(t *testing.T) {
	l, files, want := richZstd(t)
	var a, b *fetch.File
	for i := range files {
		for j := range files {
			fa, fb := &files[i], &files[j]
			if a != nil || len(fa.Chunks) != 1 || len(fb.Chunks) != 1 || i == j {
				continue
			}
			ca, cb := fa.Chunks[0], fb.Chunks[0]
			if cb.Length <= ca.Length && cb.Size >= ca.Size && !bytes.Equal(want[fa.Name], want[fb.Name][:ca.Size]) {
				a, b = fa, fb
			}
		}
	}
	if a == nil {
		t.Fatal("no pair of files to swap")
	}
	ca, cb := a.Chunks[0], b.Chunks[0]
	lie := bytes.Clone(l.Blob)
	copy(lie[ca.Offset:ca.Offset+cb.Length], l.Blob[cb.Offset:])
	for _, o := range []fetch.Options{{}, {AutoMergeGap: -1, RequestCost: 1, MaxRangesPerRequest: 4}} {
		runFault(t, l.Blob, files, want, o, faultCase{"lying", []testutil.SourceOption{testutil.Lying(lie)}, func(err error) bool {
			var de *fetch.DigestError
			return errors.As(err, &de) && de.File == a.Name
		}})
	}
}

// nilSource sends a nil stream.
type nilSource struct{}

func (nilSource) GetBlobAt(chunks []chunked.ImageSourceChunk) (chan io.ReadCloser, chan error, error) {
	streams, errs := make(chan io.ReadCloser), make(chan error)
	go func() {
		defer close(errs)
		defer close(streams)
		for range chunks {
			streams <- nil
		}
	}()
	return streams, errs, nil
}

func TestFetchNilStream(t *testing.T) {
	leakCheck(t)
	_, files, _ := rawLayout(7, 20)
	sink := newDirSink(t)
	_, err := fetch.Fetch(context.Background(), nilSource{}, files, sink, manyRanges)
	if !errors.Is(err, fetch.ErrNilStream) {
		t.Fatalf("err = %v", err)
	}
	sink.checkAllClosed(t)
}

func TestFetchSinkErrors(t *testing.T) {
	blob, files, _ := rawLayout(8, 30)
	for _, c := range []struct {
		name   string
		inject func(*dirSink)
	}{
		{"open", func(s *dirSink) { s.openErr[7] = errInjected }},
		{"close", func(s *dirSink) { s.closeErr[7] = errInjected }},
	} {
		t.Run(c.name, func(t *testing.T) {
			leakCheck(t)
			sink := newDirSink(t)
			c.inject(sink)
			_, err := fetch.Fetch(context.Background(), testutil.NewSource(blob), files, sink, manyRanges)
			var fe *fetch.FileError
			if !errors.Is(err, errInjected) || !errors.As(err, &fe) || fe.File != files[7].Name {
				t.Fatalf("err = %v", err)
			}
			sink.checkAllClosed(t)
		})
	}
}

// slowSource delays every read of its streams.
type slowSource struct {
	inner *testutil.Source
	delay time.Duration
}

type slowStream struct {
	io.ReadCloser
	delay time.Duration
}

func (s slowStream) Read(p []byte) (int, error) {
	time.Sleep(s.delay)
	return s.ReadCloser.Read(p[:min(len(p), 512)])
}

func (s slowSource) GetBlobAt(chunks []chunked.ImageSourceChunk) (chan io.ReadCloser, chan error, error) {
	in, errs, err := s.inner.GetBlobAt(chunks)
	if err != nil {
		return nil, nil, err
	}
	out := make(chan io.ReadCloser)
	go func() {
		defer close(out)
		for st := range in {
			out <- slowStream{st, s.delay}
		}
	}()
	return out, errs, nil
}

func TestFetchCancel(t *testing.T) {
	l, files, _ := richZstd(t)
	t.Run("before", func(t *testing.T) {
		leakCheck(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		src := testutil.NewSource(l.Blob)
		sink := newDirSink(t)
		_, err := fetch.Fetch(ctx, src, files, sink, fetch.Options{})
		if !errors.Is(err, context.Canceled) || src.Calls() != 0 {
			t.Fatalf("err = %v, %d calls", err, src.Calls())
		}
	})
	t.Run("during", func(t *testing.T) {
		leakCheck(t)
		ctx, cancel := context.WithCancel(context.Background())
		src := slowSource{testutil.NewSource(l.Blob), time.Millisecond}
		sink := newDirSink(t)
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := fetch.Fetch(ctx, src, files, sink, fetch.Options{AutoMergeGap: -1, RequestCost: 1, MaxRangesPerRequest: 3})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		// Unthrottled the layer takes ~7000 reads of 512 bytes, ~7 s.
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("cancel took %v", d)
		}
		sink.checkAllClosed(t)
		t.Log(err)
	})
}

// A stalled stream (Read blocks until the stream is closed, or ignores
// Close) or a source that never closes its channels ends Fetch with the
// context's error after cancellation; every file is closed as failed, and
// once the lifetime attached to the context ends (the differ's ends at
// Close) no goroutine of ours is left, even if the source never closes its
// channels.
func TestFetchEndsOnCancelWhateverTheSource(t *testing.T) {
	blob, files, _ := rawLayout(7, 20)
	for name, opts := range map[string][]testutil.SourceOption{
		"stalled stream":         {testutil.Stall(-1, false)},
		"read ignores close":     {testutil.Stall(-1, true)},
		"channels never closed":  {testutil.StreamLimit(0), testutil.NeverClose()},
		"all sent, never closed": {testutil.NeverClose()},
		"call never answered":    {testutil.StallCall()},
	} {
		t.Run(name, func(t *testing.T) {
			src := testutil.NewSource(blob, opts...)
			sink := newDirSink(t)
			life, endLife := context.WithCancel(context.Background())
			ctx, cancel := context.WithCancel(blobstream.WithLifetime(context.Background(), life))
			done := make(chan error, 1)
			go func() {
				_, err := fetch.Fetch(ctx, src, files, sink, fetch.Options{Codec: fetch.Raw})
				done <- err
			}()
			for src.Calls() == 0 { // cancel once Fetch is stuck on the fault
				time.Sleep(5 * time.Millisecond)
			}
			time.AfterFunc(20*time.Millisecond, cancel)
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("Fetch: %v, want context.Canceled", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Fetch still running 20s after cancellation")
			}
			sink.checkAllClosed(t)
			endLife()
			testutil.WaitNoGoroutines(t, "testutil.(*stalled).Read", "testutil.(*Source).GetBlobAt")
			src.Release()
			testutil.WaitNoGoroutines(t)
		})
	}
}

// A chunk frame whose header asks for a window over MaxZstdWindow fails
// with the decoder's error instead of making it allocate that window.
func TestFetchRefusesHugeZstdWindow(t *testing.T) {
	content := bytes.Repeat([]byte("window bomb "), 1000)
	var frame bytes.Buffer
	enc, err := zstd.NewWriter(&frame, zstd.WithSingleSegment(false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	// The window descriptor (RFC 8878 §3.1.1.1.2) follows the frame
	// header descriptor when Single_Segment is unset: ask for 2^26 = 64 MiB.
	b := frame.Bytes()
	if b[4]&0x20 != 0 {
		t.Fatal("setup: single-segment frame has no window descriptor")
	}
	b[5] = (26 - 10) << 3
	dg := digest.FromBytes(content)
	files := []fetch.File{{Name: "f", Size: int64(len(content)), Digest: dg,
		Chunks: []fetch.Chunk{{Offset: 0, Length: int64(frame.Len()), Size: int64(len(content)), Digest: dg}}}}
	sink := newDirSink(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = fetch.Fetch(context.Background(), testutil.NewSource(frame.Bytes()), files, sink, fetch.Options{Codec: fetch.Zstd})
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "window") {
		t.Fatalf("Fetch: %v, want a window size error", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > formats.MaxZstdWindow {
		t.Errorf("%d bytes allocated, more than MaxZstdWindow", alloc)
	}
	sink.checkAllClosed(t)
}

// fetchHalving fetches files (two workers, a range per file) from a source
// that refuses some requests, checks what was written and that the fetch
// halved its calls, and returns the stats.
func fetchHalving(t *testing.T, src *testutil.Source, files []fetch.File, want map[string][]byte) fetch.Stats {
	t.Helper()
	sink := newDirSink(t)
	o := manyRanges
	o.Concurrency = 2
	st, err := fetch.Fetch(context.Background(), src, files, sink, o)
	if err != nil {
		t.Fatal(err)
	}
	sink.checkContents(t, files, want)
	if st.Halvings == 0 {
		t.Errorf("no halvings: %+v", st)
	}
	return st
}

// fetchAndCheck fetches files from src with o, checks what was written, the
// requests against o's limit and the stats against what src served, and
// returns the stats.
func fetchAndCheck(t *testing.T, src *testutil.Source, files []fetch.File, want map[string][]byte, o fetch.Options) fetch.Stats {
	t.Helper()
	sink := newDirSink(t)
	st, err := fetch.Fetch(context.Background(), src, files, sink, o)
	if err != nil {
		t.Fatal(err)
	}
	sink.checkContents(t, files, want)
	checkRequests(t, src, o.MaxRangesPerRequest)
	if st.Requests != src.Calls() || st.BytesFetched != src.BytesServed() {
		t.Errorf("stats %+v; source: %d calls, %d bytes", st, src.Calls(), src.BytesServed())
	}
	return st
}
