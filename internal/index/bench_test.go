package index

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// synthStore writes nLayers synthetic index files of perLayer records each
// (a quarter of them chunks sharing their file's path) into dir and returns
// the specs to open them with and the digests they hold.
func synthStore(tb testing.TB, dir string, nLayers, perLayer int) ([]layerSpec, map[string]bool, []digest.Digest) {
	tb.Helper()
	var (
		specs []layerSpec
		known = map[string]bool{}
		all   []digest.Digest
	)
	rng := rand.New(rand.NewPCG(1, 2))
	for l := range nLayers {
		id := fmt.Sprintf("%064x", sha256.Sum256([]byte(strconv.Itoa(l))))
		b := &builder{}
		for i := range perLayer {
			var seed [16]byte
			binary.LittleEndian.PutUint64(seed[:], uint64(l))
			binary.LittleEndian.PutUint64(seed[8:], uint64(i))
			d := digest.FromBytes(seed[:])
			if i%4 != 3 {
				p := fmt.Sprintf("usr/lib/pkg%03d/sub%02d/file-%06d.so", rng.IntN(1000), rng.IntN(100), i)
				b.add(d, p, 0, int64(1+rng.IntN(1<<20)), true)
			} else {
				b.add(d, b.lastPath, int64(rng.IntN(1<<20)), 65536, false)
			}
			all = append(all, d)
		}
		recs := b.finish()
		fp := "synthetic"
		if err := writeFile(dir, id, fp, KindTOC, recs, b.strs); err != nil {
			tb.Fatal(err)
		}
		specs = append(specs, layerSpec{id: id, dir: "/layers/" + id, fingerprint: fp,
			build: func() (Kind, *builder, error) {
				return 0, nil, fmt.Errorf("synthetic layer %s must not be rebuilt", id)
			}})
		known[id] = true
	}
	return specs, known, all
}

// rssBytes is the resident set size from /proc/self/statm.
func rssBytes(tb testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func benchOpen(b *testing.B, nLayers, perLayer int) {
	dir := b.TempDir()
	specs, known, _ := synthStore(b, dir, nLayers, perLayer)
	var ms0, ms1 runtime.MemStats
	var heap, rss, mapped float64
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		r0 := rssBytes(b)
		b.StartTimer()
		x, err := open(dir, specs, known)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if st := x.Stats(); st.Loaded != nLayers || st.Built != 0 {
			b.Fatalf("stats %+v", st)
		}
		runtime.ReadMemStats(&ms1)
		heap += float64(ms1.HeapAlloc) - float64(ms0.HeapAlloc)
		rss += float64(rssBytes(b) - r0)
		mapped += float64(x.Stats().BytesMapped)
		if err := x.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(heap/n, "heap-B")
	b.ReportMetric(rss/n, "rss-B")
	b.ReportMetric(mapped/n, "mapped-B")
}

// 100k entries: 100 layers of 1000; 1M: 250 layers of 4000.
func BenchmarkOpen100k(b *testing.B) { benchOpen(b, 100, 1000) }
func BenchmarkOpen1M(b *testing.B)   { benchOpen(b, 250, 4000) }

func BenchmarkLookup(b *testing.B) {
	for _, sz := range []struct {
		name             string
		layers, perLayer int
	}{{"100k", 100, 1000}, {"1M", 250, 4000}} {
		dir := b.TempDir()
		specs, known, all := synthStore(b, dir, sz.layers, sz.perLayer)
		runtime.GC()
		rss0 := rssBytes(b)
		// rss-B: resident growth since before Open, after the lookups so
		// far (mapped pages they touched included).
		rss := func(b *testing.B) { b.ReportMetric(float64(rssBytes(b)-rss0), "rss-B") }
		x, err := open(dir, specs, known)
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(3, 4))
		b.Run(sz.name+"/hit", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := x.Chunk(all[rng.IntN(len(all))]); !ok {
					b.Fatal("miss")
				}
			}
			rss(b)
		})
		misses := make([]digest.Digest, 1<<16)
		for i := range misses {
			misses[i] = digest.FromString("absent " + strconv.Itoa(i))
		}
		b.Run(sz.name+"/miss", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, ok := x.Chunk(misses[i%len(misses)]); ok {
					b.Fatal("hit")
				}
			}
			rss(b)
		})
		b.Run(sz.name+"/lookup-all", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(x.Lookup(all[rng.IntN(len(all))])) == 0 {
					b.Fatal("miss")
				}
			}
			rss(b)
		})
		if err := x.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
