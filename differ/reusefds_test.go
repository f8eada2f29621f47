package differ

import (
	"archive/tar"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/apply"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/chunkdiff/chunkdiff/internal/treegen"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Reuse keeps no file open per candidate (issue 12): with use_hard_links,
// planning used to keep every hard-link candidate open until the end, and
// every local chunk's source, one descriptor per file, which an update of
// a large image turns into EMFILE.

// manyFiles is a layer of n small regular files under one directory, and
// its update: the same files plus one.
func manyFiles(t *testing.T, n int) (base, upd testutil.Layer, updTar []byte) {
	mtime := treegen.Epoch
	dir := &tar.Header{Typeflag: tar.TypeDir, Name: "lib/", Mode: 0o755, ModTime: mtime}
	file := func(i int) testutil.Entry {
		data := fmt.Appendf(nil, "file %d of the layer, with a little content\n", i)
		return testutil.Entry{Header: &tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("lib/f%05d", i),
			Mode: 0o644, ModTime: mtime, Size: int64(len(data))}, Data: data}
	}
	entries := []testutil.Entry{{Header: dir}}
	for i := range n {
		entries = append(entries, file(i))
	}
	base = testutil.ZstdChunked(t, testutil.TarBytes(t, entries))
	updTar = testutil.TarBytes(t, append(entries, file(n)))
	return base, testutil.ZstdChunked(t, updTar), updTar
}

// An update with use_hard_links over many unchanged files links them all
// with a descriptor limit far below the file count: nothing holds one per
// candidate, neither planning nor the copies.
func TestReuseHardLinksKeepFDsBounded(t *testing.T) {
	const n = 3000
	const headroom = 256 // descriptors the pull may open beyond those open before it
	base, upd, updTar := manyFiles(t, n)
	store := testutil.NewOverlayStore(t, withOpts(partial, "use_hard_links", "true"))
	pullOurs(t, store, base, "")

	d, err := OpenWithStore(t.Context(), store, upd.Digest, upd.Size(), upd.Annotations, testutil.NewSource(upd.Blob))
	require.NoError(t, err)
	defer d.Close()
	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old))
	limit := uint64(openFDs(t) + headroom) //nolint:gosec // a count, not negative
	require.Less(t, limit, old.Cur, "the limit must be lowered for the test to mean anything")
	low := syscall.Rlimit{Cur: limit, Max: old.Max}
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low))
	out, err := store.PrepareStagedLayer(nil, d)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old))
	require.NoError(t, err)
	defer func() { _ = store.CleanupStagedLayer(out) }()

	assert.Equal(t, digest.FromBytes(updTar), out.UncompressedDigest)
	a := d.Dump().Apply
	require.NotNil(t, a)
	assert.Equal(t, n, a.Reuse.FilesLinked, "every unchanged file is linked under a limit of %d descriptors", limit)
	assert.Zero(t, a.Reuse.Rejected)
	assert.Equal(t, 1, a.FilesFetched, "only the new file is fetched")
}

// Planning reuse with hard links leaves no descriptor open per candidate:
// each is opened to compare its attributes and closed at once.
func TestReusePlanKeepsNoFDPerLinkCandidate(t *testing.T) {
	const n = 2000
	layerDir := t.TempDir()
	for i := range n {
		name := memName(i)
		require.NoError(t, os.MkdirAll(filepath.Join(layerDir, filepath.Dir(name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(layerDir, name), memContent(i), 0o644))
	}
	l := memLayout(t, n)
	t.Cleanup(func() { _ = l.Close() })
	pl, err := newPlan(l, true, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = pl.close() })
	dest, err := apply.Open(t.TempDir(), apply.Options{TempDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = dest.Close() })

	before := openFDs(t)
	ru, err := planReuse(pl, wholeEverywhere{dir: layerDir}, dest, true)
	t.Cleanup(ru.close)
	require.NoError(t, err)
	require.Equal(t, n, ru.whole.len())
	held := openFDs(t) - before
	t.Logf("%d descriptors held after planning %d candidates", held, n)
	assert.Less(t, held, 16, "descriptors held after planning")
}

// chunkInOwnFile finds each file's chunk in a store file of its own, named
// by its digest.
type chunkInOwnFile struct{ dir string }

func (l chunkInOwnFile) lookup(d digest.Digest) []location {
	return []location{{path: filepath.Join(l.dir, d.Encoded()), length: memFileSize, trusted: true}}
}

func (chunkInOwnFile) files(digest.Digest, int64, string) iter.Seq[location] {
	return func(func(location) bool) {}
}

// Local chunks from many store files keep at most maxOpenSources of them
// open, after planning and while fetching reads them back (reopened once
// closed), and read the right bytes.
func TestReuseLocalSourcesKeepFDsBounded(t *testing.T) {
	smallSourceCache(t)
	const n = 1000
	dir := t.TempDir()
	for i := range n {
		require.NoError(t, os.WriteFile(filepath.Join(dir, digest.FromBytes(memContent(i)).Encoded()), memContent(i), 0o644))
	}
	l := memLayout(t, n)
	t.Cleanup(func() { _ = l.Close() })
	pl, err := newPlan(l, true, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = pl.close() })

	before := openFDs(t)
	ru, err := planReuse(pl, chunkInOwnFile{dir: dir}, nil, false)
	t.Cleanup(ru.close)
	require.NoError(t, err)
	require.Equal(t, n, ru.ChunksLocal)
	held := openFDs(t) - before
	t.Logf("%d descriptors held after planning %d local chunks in as many files", held, n)
	assert.LessOrEqual(t, held, maxOpenSources+8, "descriptors held after planning")

	// Fetch workers read the files' lists and chunks concurrently.
	list := files{p: pl, at: pl.fetchAt}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for k := w; k < n; k += 4 {
				f, err := list.File(k)
				if !assert.NoError(t, err) {
					return
				}
				c := f.Chunks[0]
				if !assert.NotNil(t, c.Local, "file %d's chunk is local", k) {
					return
				}
				b := make([]byte, c.Size)
				_, err = c.Local.ReadAt(b, c.LocalOffset)
				assert.NoError(t, err)
				assert.Equal(t, memContent(k), b, "file %d's chunk", k)
			}
		})
	}
	wg.Wait()
	held = openFDs(t) - before
	assert.LessOrEqual(t, held, maxOpenSources+8, "descriptors held after reading every chunk")
}
