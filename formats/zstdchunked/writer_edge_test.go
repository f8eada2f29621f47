package zstdchunked

import (
	"archive/tar"
	"bytes"
	"math/rand"
	"reflect"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"go.podman.io/storage/pkg/chunked/compressor"
)

// TestRollsumMatchesUpstream compares the checksum state byte by byte with
// upstream's exported RollSum.
func TestRollsumMatchesUpstream(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	p := make([]byte, 1<<20)
	rng.Read(p)
	for i := 100_000; i < 200_000; i++ {
		p[i] = 0 // a long zero stretch: the fixed point of rollZeros
	}
	ours, theirs := newRollsum(), compressor.NewRollSum()
	splits := 0
	for i, b := range p {
		ours.roll(b)
		theirs.Roll(b)
		if got, want := ours.s1<<16|ours.s2&0xffff, theirs.Digest(); got != want {
			t.Fatalf("byte %d: digest %#x, upstream %#x", i, got, want)
		}
		if ours.onSplit() != theirs.OnSplitWithBits(compressor.RollsumBits) {
			t.Fatalf("byte %d: split test differs", i)
		}
		if ours.onSplit() {
			splits++
		}
	}
	if splits < 5 {
		t.Errorf("only %d splits in 1 MiB", splits)
	}
	// rollZeros(n) must equal n single rolls, whatever n.
	for _, n := range []int64{1, 63, 64, 65, 1000} {
		a, b := newRollsum(), newRollsum()
		for _, c := range p[:777] {
			a.roll(c)
			b.roll(c)
		}
		a.rollZeros(n)
		for range n {
			b.roll(0)
		}
		for _, c := range p[777:2000] {
			a.roll(c)
			b.roll(c)
			if a.s1 != b.s1 || a.s2 != b.s2 {
				t.Fatalf("rollZeros(%d) diverges from single rolls", n)
			}
		}
	}
}

// edgePayloads are payloads at the chunker's edges: zero runs just under,
// at and over the hole threshold, at the start and the end, runs longer
// than the read buffer, holes right after a boundary, split points inside
// short zero runs.
func edgePayloads() map[string][]byte {
	rng := rand.New(rand.NewSource(42))
	rnd := func(n int) []byte { b := make([]byte, n); rng.Read(b); return b }
	zeros := func(n int) []byte { return make([]byte, n) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	m := map[string][]byte{
		"hole1023":        cat(rnd(5000), zeros(holeThreshold-1), rnd(5000)),
		"hole1024":        cat(rnd(5000), zeros(holeThreshold), rnd(5000)),
		"hole1025":        cat(rnd(5000), zeros(holeThreshold+1), rnd(5000)),
		"startHole":       cat(zeros(3000), rnd(100_000)),
		"endHole":         cat(rnd(100_000), zeros(3000)),
		"endShortZeros":   cat(rnd(100_000), zeros(1000)),
		"allZeros":        zeros(300_000),
		"allShortZeros":   zeros(holeThreshold - 1),
		"exactHoleOnly":   zeros(holeThreshold),
		"hugeHole":        cat(rnd(70_000), zeros(5<<20), rnd(70_000)),
		"manyHoles":       nil,
		"shortZeroSplits": nil,
		"random":          rnd(3 << 20),
		"oneByte":         {7},
		"oneZero":         {0},
	}
	var mh []byte
	for i := range 200 {
		mh = append(mh, rnd(rng.Intn(3000)+1)...)
		mh = append(mh, zeros(holeThreshold-2+i%5)...)
	}
	m["manyHoles"] = mh
	// Short zero runs everywhere, so some boundaries fall inside them.
	var sz []byte
	for range 3000 {
		sz = append(sz, rnd(rng.Intn(300))...)
		sz = append(sz, zeros(rng.Intn(900))...)
	}
	m["shortZeroSplits"] = sz
	return m
}

// A hole right after a data boundary: find a split point in random data
// and put a hole just after it.
func holeAfterSplit() []byte {
	rng := rand.New(rand.NewSource(7))
	p := make([]byte, 1<<20)
	rng.Read(p)
	rs := newRollsum()
	for i, b := range p {
		if b == 0 {
			p[i] = 1 // keep the test simple: no zero runs of its own
			b = 1
		}
		rs.roll(b)
		if rs.onSplit() {
			return append(append(p[:i+1:i+1], make([]byte, 4000)...), p[i+1:i+50_000]...)
		}
	}
	panic("no split in 1 MiB")
}

func TestWriterEdgeChunksMatchUpstream(t *testing.T) {
	var entries []testutil.Entry
	add := func(name string, data []byte) {
		entries = append(entries, testutil.Entry{Header: &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644}, Data: data})
	}
	for name, p := range edgePayloads() {
		add(name, p)
	}
	add("holeAfterSplit", holeAfterSplit())
	add("empty", nil)
	tarBytes := testutil.TarBytes(t, entries)

	up := testutil.ZstdChunked(t, tarBytes)
	upAnn, err := ParseAnnotations(up.Annotations)
	if err != nil {
		t.Fatal(err)
	}
	ours, res := ourLayer(t, tarBytes)
	if !bytes.Equal(zstdDecode(t, ours.Blob), tarBytes) {
		t.Fatal("blob does not decompress to the input")
	}
	upTOC := decodeWTOC(t, blobTOC(t, up.Blob, upAnn))
	ourTOC := decodeWTOC(t, blobTOC(t, ours.Blob, res.Annotations))
	byFile := func(cs []chunkKey) map[string][]chunkKey {
		m := map[string][]chunkKey{}
		for _, c := range cs {
			m[c.File] = append(m[c.File], c)
		}
		return m
	}
	uc, oc := byFile(chunkList(upTOC)), byFile(chunkList(ourTOC))
	for name := range uc {
		if !reflect.DeepEqual(uc[name], oc[name]) {
			t.Errorf("%s: chunks differ:\nupstream %+v\nours     %+v", name, uc[name], oc[name])
		}
	}
	if !reflect.DeepEqual(withoutOffsets(upTOC), withoutOffsets(ourTOC)) {
		t.Error("TOC entries differ beyond compressed offsets")
	}
	// Our ranges are decodable one by one, too.
	checkChunkRanges(t, ours.Blob, ourTOC, res.Annotations.TOC.Offset)
}
