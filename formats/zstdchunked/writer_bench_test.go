package zstdchunked

import (
	"bytes"
	"io"
	"sync"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"go.podman.io/storage/pkg/chunked/compressor"
)

var (
	benchTarOnce sync.Once
	benchTar     []byte
)

// realisticTar is a ~64 MiB toolchain-like layer (testutil.RealisticEntries).
func realisticTar(b *testing.B) []byte {
	benchTarOnce.Do(func() {
		benchTar = testutil.TarBytes(b, testutil.RealisticEntries(testutil.RealisticOptions{Seed: 1, TotalBytes: 64 << 20}))
	})
	return benchTar
}

// BenchmarkWriter and BenchmarkUpstreamCompressor write the same tar at the
// default level; compare their MB/s (of tar input).
func BenchmarkWriter(b *testing.B) {
	for _, c := range []struct {
		name string
		opts []WriterOption
	}{{"level10", nil}, {"level3", []WriterOption{WithLevel(3)}}, {"uncompressed", []WriterOption{WithoutCompression()}}} {
		b.Run(c.name, func(b *testing.B) {
			tarBytes := realisticTar(b)
			b.SetBytes(int64(len(tarBytes)))
			b.ReportAllocs()
			var out countingDiscard
			for b.Loop() {
				out.n = 0
				if _, err := Compress(&out, bytes.NewReader(tarBytes), c.opts...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(out.n)/float64(len(tarBytes)), "blob/tar")
		})
	}
}

func BenchmarkUpstreamCompressor(b *testing.B) {
	for _, c := range []struct {
		name  string
		level int
		raw   bool
	}{{"level10", 10, false}, {"level3", 3, false}, {"uncompressed", 0, true}} {
		b.Run(c.name, func(b *testing.B) {
			tarBytes := realisticTar(b)
			b.SetBytes(int64(len(tarBytes)))
			b.ReportAllocs()
			var out countingDiscard
			for b.Loop() {
				out.n = 0
				var w io.WriteCloser
				var err error
				if c.raw {
					w, err = compressor.NoCompression(&out, map[string]string{})
				} else {
					w, err = compressor.ZstdCompressor(&out, map[string]string{}, &c.level)
				}
				if err != nil {
					b.Fatal(err)
				}
				if _, err := w.Write(tarBytes); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(out.n)/float64(len(tarBytes)), "blob/tar")
		})
	}
}
