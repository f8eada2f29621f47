package zstdchunked

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vbatts/tar-split/archive/tar"
)

// tarSplitOfNames returns the tar-split JSON of a tar with n empty files.
func tarSplitOfNames(t *testing.T, n int) []byte {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for i := range n {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("f%05d", i), Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var blob bytes.Buffer
	res, err := Compress(&blob, &tb, WithoutCompression(), WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	p := res.Annotations.TarSplit
	return blob.Bytes()[p.Offset : p.Offset+p.Length] // stored raw
}

func TestHeadersAheadYieldsWhatTheParserYields(t *testing.T) {
	const n = 3*headerBatch + 17 // several batches and a partial one
	tsJSON := tarSplitOfNames(t, n)
	direct := newTarSplitHeaders(bytes.NewReader(tsJSON))
	ahead := newHeadersAhead(newTarSplitHeaders(bytes.NewReader(tsJSON)))
	defer ahead.close()
	for i := 0; ; i++ {
		want, werr := direct.next()
		got, gerr := ahead.next()
		if werr != gerr {
			t.Fatalf("header %d: error %v, want %v", i, gerr, werr)
		}
		if werr == io.EOF {
			if i != n {
				t.Fatalf("%d headers, want %d", i, n)
			}
			break
		}
		if got.Name != want.Name || got.Size != want.Size {
			t.Fatalf("header %d: %q/%d, want %q/%d", i, got.Name, got.Size, want.Name, want.Size)
		}
	}
	// The end is sticky, as for the parser.
	if _, err := ahead.next(); err != io.EOF {
		t.Fatalf("after the end: %v", err)
	}
	ahead.close()
	if ahead.ts.size != direct.size {
		t.Fatalf("tar size %d, want %d", ahead.ts.size, direct.size)
	}
}

func TestHeadersAheadPassesTheParseError(t *testing.T) {
	tsJSON := tarSplitOfNames(t, headerBatch+5)
	// Cut the JSON mid-line after the first batch's worth of lines.
	lines := bytes.SplitAfter(tsJSON, []byte("\n"))
	broken := append(bytes.Join(lines[:len(lines)/2], nil), []byte(`{"type":2,"payload":`)...)
	ahead := newHeadersAhead(newTarSplitHeaders(bytes.NewReader(broken)))
	defer ahead.close()
	var err error
	for err == nil {
		_, err = ahead.next()
	}
	if err == io.EOF || !strings.Contains(err.Error(), "tar-split entry") {
		t.Fatalf("got %v, want the parser's error", err)
	}
}

func TestHeadersAheadStopsWhenClosedEarly(t *testing.T) {
	tsJSON := tarSplitOfNames(t, 20*headerBatch)
	before := runtime.NumGoroutine()
	ahead := newHeadersAhead(newTarSplitHeaders(bytes.NewReader(tsJSON)))
	if _, err := ahead.next(); err != nil {
		t.Fatal(err)
	}
	ahead.close() // most of the tar-split unread
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Fatalf("%d goroutines after close, %d before", g, before)
	}
	if _, err := ahead.next(); err == nil {
		t.Fatal("next after close returned a header")
	}
}
