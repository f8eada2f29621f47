package toc

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

func BenchmarkDecode(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	data := genTOC(b, r, 100_000, false)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		d := NewDecoder(bytes.NewReader(data))
		n := 0
		for {
			_, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 100_000 {
			b.Fatalf("%d entries", n)
		}
	}
}

// BenchmarkScanTop is the top-level scan a format runs before its one
// decoding pass (to learn tarSplitDigest): compare with BenchmarkDecode.
func BenchmarkScanTop(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	data := genTOC(b, r, 100_000, false)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		d, err := ScanTop(func() io.Reader { return bytes.NewReader(data) })
		if err != nil || d.Index() != 0 {
			b.Fatal(err, d.Index())
		}
	}
}
