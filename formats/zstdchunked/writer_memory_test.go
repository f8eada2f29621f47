package zstdchunked

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/tar/storage"
)

// sparseish generates a file: over its first quarter, per MiB, 64 KiB of
// random data then zeros (data chunks and holes), then one zero run to the
// end, a single hole chunk of three quarters of the file, which would show
// any whole-chunk buffering. Content is produced as it is read.
type sparseish struct {
	left, pos, patternEnd int64
	noise                 []byte
}

func (g *sparseish) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.left)]
	for i := range p {
		if off := (g.pos + int64(i)) % (1 << 20); g.pos+int64(i) < g.patternEnd && off < int64(len(g.noise)) {
			p[i] = g.noise[off]
		} else {
			p[i] = 0
		}
	}
	g.pos += int64(len(p))
	g.left -= int64(len(p))
	return len(p), nil
}

// heapPeak samples HeapInuse until stopped and returns the highest value.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var ms runtime.MemStats
		var peak uint64
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// TestWriterBoundedMemory streams tars holding one file of 32 MiB and of
// 512 MiB through the writer: the heap stays far below the file size and
// does not grow with it (no whole-file or whole-chunk buffering; what
// remains is the encoder's fixed tables and window).
func TestWriterBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 544 MiB")
	}
	small := streamPeak(t, 32<<20)
	big := streamPeak(t, 512<<20)
	if limit := int64(128 << 20); big > limit {
		t.Errorf("heap grew by %d MiB streaming a 512 MiB file; limit %d MiB", big>>20, limit>>20)
	}
	if big > small+24<<20 {
		t.Errorf("heap growth rises with the file size: %d MiB for 32 MiB, %d MiB for 512 MiB", small>>20, big>>20)
	}
}

// streamPeak writes a tar with one size-byte generated file and returns
// how far HeapInuse rose above its starting point.
func streamPeak(t *testing.T, size int64) int64 {
	t.Helper()
	noise := make([]byte, 64<<10)
	rand.New(rand.NewSource(1)).Read(noise)
	var hdr bytes.Buffer
	if err := tar.NewWriter(&hdr).WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "big.img", Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	tarHash := sha256.New()
	in := io.TeeReader(io.MultiReader(&hdr, &sparseish{left: size, patternEnd: size / 4, noise: noise}, bytes.NewReader(make([]byte, 1024))), tarHash)

	var out countingDiscard
	res, base, peak, err := compressMeasured(&out, in)
	if err != nil {
		t.Fatal(err)
	}
	if res.TarSize != 512+size+1024 || res.DiffID != digest.NewDigestFromBytes(digest.SHA256, tarHash.Sum(nil)) {
		t.Errorf("TarSize %d DiffID %s: not the streamed tar", res.TarSize, res.DiffID)
	}
	grew := int64(peak) - int64(base)
	t.Logf("%d MiB file -> %d-byte blob, %d TOC entries; heap in use peaked %.1f MiB above the %.1f MiB baseline",
		size>>20, out.n, res.Entries, float64(grew)/(1<<20), float64(base)/(1<<20))
	return grew
}

// compressMeasured runs Compress and returns, besides its result, HeapInuse
// after a GC before it started and the highest HeapInuse seen while it ran.
func compressMeasured(dst io.Writer, r io.Reader, opts ...WriterOption) (res *Result, base, peak uint64, err error) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base = ms.HeapInuse
	stop := make(chan struct{})
	peakC := heapPeak(stop)
	res, err = Compress(dst, r, opts...)
	close(stop)
	return res, base, <-peakC, err
}

type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// TestWriterMemoryIndependentOfEntries streams tars of 20,000 and 200,000
// tiny files in the convert_images variant: the TOC and tar-split (about
// 1.7 KiB per entry, 340 MiB raw for the larger) are spooled to disk, so
// the heap does not grow with the entries at all: the duplicate-path check
// keeps its 16-byte keys on disk beyond 64k of them (it grew by about 30
// bytes per entry as a map; 1.7 KiB when both were buffered in memory).
func TestWriterMemoryIndependentOfEntries(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 200,000 entries")
	}
	// Collect often, so that HeapInuse follows what is live, not garbage.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	small := entriesPeak(t, 20_000)
	big := entriesPeak(t, 200_000)
	if big > small+4<<20 {
		t.Errorf("heap growth rises with the entry count: %d MiB for 20k entries, %d MiB for 200k", small>>20, big>>20)
	}
}

func entriesPeak(t *testing.T, n int) int64 {
	t.Helper()
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		for i := range n {
			name := fmt.Sprintf("usr/share/dataset/part-%03d/sample-%07d.json", i%500, i)
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: 2, ModTime: time.Unix(1700000000, 0)}); err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := tw.Write([]byte{byte(i), '\n'}); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(tw.Close())
	}()
	var out countingDiscard
	res, base, peak, err := compressMeasured(&out, pr, WithTempDir(t.TempDir()), WithoutCompression())
	if err != nil {
		t.Fatal(err)
	}
	if res.Entries < n {
		t.Fatalf("%d entries written, want %d", res.Entries, n)
	}
	grew := int64(peak) - int64(base)
	t.Logf("%d entries: TOC %d B, tar-split %d B uncompressed; heap in use peaked %.1f MiB above the baseline",
		n, res.Annotations.TOC.UncompressedLength, res.Annotations.TarSplit.UncompressedLength, float64(grew)/(1<<20))
	return grew
}

// hashPacker writes what tar-split's own packer writes, byte for byte, and
// finds the same duplicates: at the end, named by reading its output back.
func TestHashPackerMatchesTarSplit(t *testing.T) {
	entries := []storage.Entry{
		{Type: storage.SegmentType, Payload: []byte("header bytes")},
		{Type: storage.FileType, Name: "a/b", Size: 3, Payload: []byte{1, 2, 3}},
		{Type: storage.FileType, Name: "bad\xffutf8", Size: 1},
		{Type: storage.FileType, Name: "./a/c"},
	}
	var ours, theirs bytes.Buffer
	hp, jp := newHashPacker(&ours, t.TempDir()), storage.NewJSONPacker(&theirs)
	defer hp.seen.Close()
	for i, e := range entries {
		pa, ea := hp.AddEntry(e)
		pb, eb := jp.AddEntry(e)
		if pa != pb || ea != nil || eb != nil {
			t.Fatalf("entry %d: ours (%d, %v), tar-split's (%d, %v)", i, pa, ea, pb, eb)
		}
	}
	if !bytes.Equal(ours.Bytes(), theirs.Bytes()) {
		t.Fatalf("output differs:\nours   %s\ntheirs %s", ours.Bytes(), theirs.Bytes())
	}
	dup := storage.Entry{Type: storage.FileType, Name: "a//b"} // the same path as a/b, cleaned
	if _, err := jp.AddEntry(dup); !errors.Is(err, storage.ErrDuplicatePath) {
		t.Fatalf("tar-split's packer took a duplicate: %v", err)
	}
	if _, err := hp.AddEntry(dup); err != nil {
		t.Fatal(err)
	}
	k, repeated, err := hp.seen.Repeated()
	if err != nil || !repeated || k != pathKey("a/b") {
		t.Fatalf("Repeated: %x %v %v", k, repeated, err)
	}
	name, err := repeatedPath(bytes.NewReader(ours.Bytes()), false, k)
	if err != nil || name != "a//b" {
		t.Fatalf("repeatedPath: %q %v", name, err)
	}
}
