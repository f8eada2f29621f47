package zstdchunked

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"go.podman.io/storage/pkg/chunked/compressor"
)

// rawHeader builds a USTAR header block by hand, for typeflags and PAX
// records archive/tar refuses to write.
func rawHeader(name string, typeflag byte, size int) []byte {
	b := make([]byte, 512)
	copy(b[0:], name)
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], fmt.Sprintf("%011o\x00", size))
	copy(b[136:], "00000000000\x00")
	b[156] = typeflag
	copy(b[257:], "ustar\x0000")
	if typeflag == 'S' { // old GNU sparse needs the GNU header format
		copy(b[257:], "ustar  \x00")
	}
	copy(b[148:], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

func pad(p []byte) []byte { return append(p, make([]byte, (512-len(p)%512)%512)...) }

// rawTar concatenates blocks and the end-of-archive marker after a
// regular file, so a bad entry is not the first thing written.
func rawTar(blocks ...[]byte) []byte {
	out := append(rawHeader("before", '0', 5), pad([]byte("hello"))...)
	for _, b := range blocks {
		out = append(out, b...)
	}
	return append(out, make([]byte, 1024)...)
}

func paxRecord(k, v string) string {
	// The length counts itself; find the fixed point.
	n := len(k) + len(v) + 3
	for {
		s := fmt.Sprintf("%d %s=%s\n", n, k, v)
		if len(s) == n {
			return s
		}
		n = len(s)
	}
}

func TestWriterUnsupportedEntries(t *testing.T) {
	// A PAX global header after a file, in archive/tar's own encoding.
	var global bytes.Buffer
	tw := tar.NewWriter(&global)
	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeReg, Name: "before"},
		{Typeflag: tar.TypeXGlobalHeader, Name: "global", PAXRecords: map[string]string{"comment": "hi"}},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	sparseRecs := paxRecord("GNU.sparse.size", "8192") + paxRecord("GNU.sparse.numblocks", "1") +
		paxRecord("GNU.sparse.map", "4096,5") + paxRecord("GNU.sparse.name", "sparse")
	cases := map[string]struct {
		tar      []byte
		typeflag byte
	}{
		"pax global header": {global.Bytes(), 'g'},
		"gnu sparse":        {rawTar(rawHeader("sparse", 'S', 0)), 'S'},
		"pax gnu sparse": {rawTar(
			append(rawHeader("PaxHeaders/sparse", 'x', len(sparseRecs)), pad([]byte(sparseRecs))...),
			append(rawHeader("GNUSparseFile/sparse", '0', 5), pad([]byte("hello"))...)), '0'},
		"volume label": {rawTar(rawHeader("label", 'V', 0)), 'V'},
		"contiguous":   {rawTar(append(rawHeader("cont", '7', 3), pad([]byte("abc"))...)), '7'},
	}
	for name, c := range cases {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			_, err := Compress(io.Discard, bytes.NewReader(c.tar))
			var ue *UnsupportedEntryError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v (%T), want *UnsupportedEntryError", err, err)
			}
			if ue.Typeflag != c.typeflag || !strings.Contains(err.Error(), "unknown tarball type") {
				t.Errorf("error %q: typeflag %q, want %q", err, ue.Typeflag, c.typeflag)
			}
			t.Log(err)
			// Upstream refuses these too, except PAX sparse, where it
			// writes a blob that does not decompress to the input.
			if name != "pax gnu sparse" {
				if upErr := upstreamCompress(c.tar); upErr == nil {
					t.Error("upstream accepts it")
				}
			} else if blob, _, err := upstreamLevel1(c.tar); err != nil || bytes.Equal(zstdDecodeF(blob), c.tar) {
				t.Errorf("upstream handles PAX sparse now (err %v): reconsider refusing it", err)
			}
		})
	}
}

func upstreamCompress(tarBytes []byte) error {
	w, err := compressor.ZstdCompressor(io.Discard, map[string]string{}, nil)
	if err != nil {
		return err
	}
	_, werr := w.Write(tarBytes)
	return errors.Join(werr, w.Close())
}

func TestWriterDuplicatePaths(t *testing.T) {
	reg := func(name, data string) testutil.Entry {
		return testutil.Entry{Header: &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644}, Data: []byte(data)}
	}
	dir := func(name string) testutil.Entry {
		return testutil.Entry{Header: &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
	}
	for name, c := range map[string]struct {
		entries []testutil.Entry
		dup     string
	}{
		"same name":     {[]testutil.Entry{dir("etc/"), reg("etc/x", "1"), reg("etc/y", "2"), reg("etc/x", "3"), reg("etc/z", "4")}, "etc/x"},
		"cleaned equal": {[]testutil.Entry{reg("a/b", "1"), reg("./a/b", "2")}, "./a/b"},
		"empty file":    {[]testutil.Entry{reg("e", ""), reg("e", "")}, "e"},
		"dir twice":     {[]testutil.Entry{dir("d/"), reg("d/f", "x"), dir("d/")}, "d/"},
	} {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			tarBytes := testutil.TarBytes(t, c.entries)
			_, err := Compress(io.Discard, bytes.NewReader(tarBytes))
			var de *DuplicatePathError
			if !errors.As(err, &de) || !errors.Is(err, ErrDuplicatePath) {
				t.Fatalf("error %v, want *DuplicatePathError", err)
			}
			if de.Name != c.dup {
				t.Errorf("names %q, want %q", de.Name, c.dup)
			}
			if upstreamCompress(tarBytes) == nil {
				t.Error("upstream accepts it")
			}
			// The same through the WriteCloser.
			w := NewWriter(io.Discard)
			_, werr := w.Write(tarBytes)
			if cerr := w.Close(); !errors.As(cerr, &de) {
				t.Errorf("Writer: Write %v, Close %v", werr, cerr)
			}
		})
	}
}

func TestWriterBadTar(t *testing.T) {
	good := testutil.TarBytes(t, testutil.RichTree(1))
	for name, in := range map[string][]byte{
		"truncated payload": good[:len(good)/2],
		"garbage header":    append(bytes.Repeat([]byte{'z'}, 512), make([]byte, 1024)...),
	} {
		if _, err := Compress(io.Discard, bytes.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	// A failing destination is reported.
	if _, err := Compress(failWriter{}, bytes.NewReader(good)); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("failing dst: %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestWriterWriteCloser: the WriteCloser gives the same bytes as Compress
// however the input is cut, refuses Result before Close, and stops
// accepting input once compression failed, leaving no goroutine behind.
func TestWriterWriteCloser(t *testing.T) {
	before := runtime.NumGoroutine()
	tarBytes := testutil.TarBytes(t, testutil.RichTree(3))
	want, wantRes := ourLayer(t, tarBytes)

	var buf bytes.Buffer
	w := NewWriter(&buf)
	if _, err := w.Result(); err == nil {
		t.Error("Result before Close succeeded")
	}
	for p, n := tarBytes, 1; len(p) > 0; n = n*7%9973 + 1 {
		k := min(n, len(p))
		if _, err := w.Write(p[:k]); err != nil {
			t.Fatal(err)
		}
		p = p[k:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := w.Result()
	if err != nil || *res != *wantRes {
		t.Errorf("Result %+v %v, want %+v", res, err, wantRes)
	}
	if !bytes.Equal(buf.Bytes(), want.Blob) {
		t.Error("WriteCloser output differs from Compress output")
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// After a failure, Write fails rather than blocking.
	w = NewWriter(io.Discard)
	bad := rawTar(rawHeader("label", 'V', 0))
	var werr error
	for range 100 {
		if _, werr = w.Write(bad); werr != nil {
			break
		}
	}
	var ue *UnsupportedEntryError
	if !errors.As(werr, &ue) {
		t.Errorf("Write after failure: %v", werr)
	}
	if err := w.Close(); !errors.As(err, &ue) {
		t.Errorf("Close after failure: %v", err)
	}

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left, %d before", n, before)
	}
}
