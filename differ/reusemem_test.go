package differ

import (
	"encoding/binary"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/layout"
	"github.com/opencontainers/go-digest"
)

// What reuse planning keeps in memory per file the store has, on an
// update: nothing, whole-file candidates and local chunks are on disk
// (issue 12). These tests measure it so that it cannot grow unnoticed.

const memFileSize = 100

// memContent is file i's content.
func memContent(i int) []byte {
	b := make([]byte, memFileSize)
	binary.LittleEndian.PutUint64(b, uint64(i))
	return b
}

func memName(i int) string { return fmt.Sprintf("usr/lib/pkg%03d/file%07d.so", i%1000, i) }

// memLayout is a layout of n single-chunk regular files.
func memLayout(t testing.TB, n int) *layout.Layout {
	t.Helper()
	b, err := layout.NewBuilder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range n {
		d := digest.FromBytes(memContent(i))
		e := toc.Entry{Type: toc.TypeReg, Name: memName(i), Size: memFileSize, Mode: 0o644,
			Offset: int64(100 + 100*i), EndOffset: int64(150 + 100*i), Digest: d, ChunkDigest: d}
		if err := b.Add(&e); err != nil {
			t.Fatal(err)
		}
	}
	l, err := b.Finish(int64(200 + 100*n))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// wholeEverywhere finds each file whole in one layer of the store, as an
// update of a layer whose files are all unchanged would.
type wholeEverywhere struct{ dir string }

func (wholeEverywhere) lookup(digest.Digest) []location { return nil }

func (l wholeEverywhere) files(_ digest.Digest, size int64, name string) iter.Seq[location] {
	return func(yield func(location) bool) {
		// A path of its own, as the index gives each candidate.
		yield(location{dir: l.dir, path: string([]byte(name)), length: size})
	}
}

// chunksInOneFile finds each file's chunk (not the file) in one file.
type chunksInOneFile struct {
	path string
	at   map[digest.Digest]int64
}

func (l chunksInOneFile) lookup(d digest.Digest) []location {
	if off, ok := l.at[d]; ok {
		return []location{{path: l.path, offset: off, length: memFileSize, trusted: true}}
	}
	return nil
}

func (chunksInOneFile) files(digest.Digest, int64, string) iter.Seq[location] {
	return func(func(location) bool) {}
}

// planHeapPerFile is the heap planReuse leaves in use per file of n.
func planHeapPerFile(t *testing.T, n int, loc locator) (*reuse, *plan, float64) {
	l := memLayout(t, n)
	t.Cleanup(func() { _ = l.Close() })
	pl, err := newPlan(l, true, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pl.close() })
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ru, err := planReuse(pl, loc, nil, false)
	t.Cleanup(ru.close)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(loc) // its own tables are not what is measured
	return ru, pl, float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}

// Whole-file candidates are spooled to disk: planning 100k of them leaves
// a constant in memory (the spool's write buffer), where a map of them
// took 137 bytes each.
func TestReusePlanMemoryPerWholeFile(t *testing.T) {
	const n = 100_000
	ru, _, per := planHeapPerFile(t, n, wholeEverywhere{dir: "/var/lib/containers/storage/overlay/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/diff"})
	if ru.whole.len() != n {
		t.Fatalf("%d candidates, want %d", ru.whole.len(), n)
	}
	t.Logf("reuse.whole: %.1f bytes per whole-file candidate (its path: %d bytes)", per, len(memName(0)))
	if per > 8 {
		t.Errorf("%.1f bytes per candidate: they are not on disk", per)
	}
}

// Files with chunks found in the store are recorded on disk too: planning
// 100k of them leaves a constant in memory, where a map of them took 78
// bytes each (and kept their source open).
func TestReusePlanMemoryPerLocalChunk(t *testing.T) {
	const n = 100_000
	src := filepath.Join(t.TempDir(), "store-file")
	at := writeChunks(t, src, n)
	ru, pl, per := planHeapPerFile(t, n, chunksInOneFile{path: src, at: at})
	if ru.ChunksLocal != n || pl.local.len() != n {
		t.Fatalf("%d chunks local in %d files, want %d", ru.ChunksLocal, pl.local.len(), n)
	}
	t.Logf("plan.local: %.1f bytes per file with one local chunk", per)
	if per > 8 {
		t.Errorf("%.1f bytes per file: they are not on disk", per)
	}
}

// writeChunks writes the n files' contents back to back to path and
// returns where each is.
func writeChunks(t *testing.T, path string, n int) map[digest.Digest]int64 {
	data := make([]byte, 0, n*memFileSize)
	at := make(map[digest.Digest]int64, n)
	for i := range n {
		at[digest.FromBytes(memContent(i))] = int64(len(data))
		data = append(data, memContent(i)...)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return at
}
