package fetch_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/fetch"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
)

// benchSink writes into dir. Each iteration gets a fresh directory
// (the old one removed off the clock): rewriting a truncated file makes
// ext4 flush it on close (auto_da_alloc), which would measure the disk.
type benchSink struct{ dir string }

func (s benchSink) Open(i int) (*os.File, error) {
	return os.OpenFile(filepath.Join(s.dir, strconv.Itoa(i)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
}

func (s benchSink) Close(_ int, f *os.File, _ error) error { return f.Close() }

// BenchmarkFetchZstd fetches every file of a ~64 MiB realistic
// zstd:chunked layer (2000 files) from memory into tmpfs when there is one
// (creating 2000 files on this VM's ext4 takes ~1.7 s by itself, which
// would measure the disk, not this package). MB/s counts uncompressed bytes.
func BenchmarkFetchZstd(b *testing.B) {
	entries := testutil.RealisticEntries(testutil.RealisticOptions{Seed: 1, TotalBytes: 64 << 20})
	l := testutil.ZstdChunked(b, testutil.TarBytes(b, entries))
	files := zstdFiles(b, l)
	var total int64
	for _, f := range files {
		total += f.Size
	}
	root := b.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if root, err = os.MkdirTemp("/dev/shm", "fetchbench"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(root) })
	}
	src := testutil.NewSource(l.Blob)
	b.SetBytes(total)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		b.StopTimer()
		dir := filepath.Join(root, strconv.Itoa(n))
		if err := os.RemoveAll(filepath.Join(root, strconv.Itoa(n-1))); err != nil {
			b.Fatal(err)
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		n++
		b.StartTimer()
		if _, err := fetch.Fetch(context.Background(), src, files, benchSink{dir}, fetch.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
