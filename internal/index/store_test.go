package index_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/chunkdiff/chunkdiff/differ"
	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/index"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	storage "go.podman.io/storage"
)

func TestMain(m *testing.M) { testutil.Main(m) }

var partial = map[string]string{"enable_partial_images": "true"}

// fixture is a store with three layers of distinct trees: pulled with our
// differ, pulled with upstream's, and an ordinary (TOC-less) gzip pull.
type fixture struct {
	store                 storage.Store
	ours, theirs, plain   *storage.Layer
	oursTar, theirsTar    []byte
	plainTar              []byte
	oursLayer, theirLayer testutil.Layer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: testutil.NewOverlayStore(t, partial)}
	f.oursTar = testutil.TarBytes(t, testutil.RichTree(1))
	f.theirsTar = testutil.TarBytes(t, testutil.RichTree(2))
	f.plainTar = testutil.TarBytes(t, testutil.RichTree(3))
	f.oursLayer = testutil.ZstdChunked(t, f.oursTar)
	f.theirLayer = testutil.ZstdChunked(t, f.theirsTar)

	d, err := differ.OpenWithStore(t.Context(), f.store, f.oursLayer.Digest, f.oursLayer.Size(), f.oursLayer.Annotations, testutil.NewSource(f.oursLayer.Blob))
	require.NoError(t, err)
	out, err := f.store.PrepareStagedLayer(nil, d)
	require.NoError(t, err)
	require.NoError(t, d.Close())
	f.ours = testutil.ApplyStaged(t, f.store, out, "")

	out, err = testutil.UpstreamPull(t, f.store, f.theirLayer, nil)
	require.NoError(t, err)
	f.theirs = testutil.ApplyStaged(t, f.store, out, "")

	f.plain = testutil.PutLayer(t, f.store, testutil.Gzip(t, f.plainTar).Blob, "")
	return f
}

func (f *fixture) indexDir() string {
	return filepath.Join(f.store.GraphRoot(), index.DirName)
}

func open(t *testing.T, store storage.Store, opts ...index.Option) *index.Index {
	t.Helper()
	x, err := index.Open(store, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = x.Close() })
	return x
}

// regularFiles returns the digest of every indexable regular file in a tar.
func regularFiles(t *testing.T, tarBytes []byte) map[string]digest.Digest {
	t.Helper()
	out := map[string]digest.Digest{}
	tr := tar.NewReader(bytes.NewReader(tarBytes))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		if h.Typeflag != tar.TypeReg || h.Size == 0 {
			continue
		}
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		out[h.Name] = digest.FromBytes(data)
	}
}

// readLoc returns the bytes a location points at.
func readLoc(t *testing.T, l index.Location) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join(l.Dir, l.Path))
	require.NoError(t, err)
	defer f.Close()
	buf := make([]byte, l.Length)
	_, err = f.ReadAt(buf, l.Offset)
	require.NoError(t, err, "%s [%d,+%d)", l.Path, l.Offset, l.Length)
	return buf
}

func inLayer(locs []index.Location, layer string) (index.Location, bool) {
	for _, l := range locs {
		if l.Layer == layer {
			return l, true
		}
	}
	return index.Location{}, false
}

// Every regular file of every layer resolves, in that layer, to a whole
// file whose bytes hash to its digest.
func checkFiles(t *testing.T, x *index.Index, layer string, tarBytes []byte) {
	t.Helper()
	files := regularFiles(t, tarBytes)
	require.NotEmpty(t, files)
	for name, d := range files {
		l, ok := inLayer(x.Lookup(d), layer)
		if !assert.True(t, ok, "%s (%s) not indexed in layer %s", name, d, layer) {
			continue
		}
		assert.True(t, l.Whole, name)
		assert.Zero(t, l.Offset, name)
		assert.Equal(t, d, digest.FromBytes(readLoc(t, l)), "%s -> %s", name, l.Path)
		fl, ok := x.File(d)
		assert.True(t, ok, name)
		assert.True(t, fl.Whole, name)
	}
}

// Every data chunk of a multi-chunk file resolves, in that layer, to bytes
// hashing to its chunk digest. It returns how many chunks it checked.
func checkChunks(t *testing.T, x *index.Index, store storage.Store, layer string) int {
	t.Helper()
	rc, err := store.LayerBigData(layer, "zstd-chunked-manifest")
	require.NoError(t, err)
	defer rc.Close()
	dec := toc.NewDecoder(rc)
	n := 0
	for {
		e, err := dec.Next()
		if errors.Is(err, io.EOF) {
			return n
		}
		require.NoError(t, err)
		if e.ChunkDigest == "" || e.ChunkType == toc.ChunkTypeZeros {
			continue
		}
		l, ok := inLayer(x.Lookup(e.ChunkDigest), layer)
		if !assert.True(t, ok, "chunk %s of %s", e.ChunkDigest, e.Name) {
			continue
		}
		if !l.Whole {
			assert.Equal(t, e.ChunkOffset, l.Offset, e.Name)
		}
		assert.Equal(t, e.ChunkDigest, digest.FromBytes(readLoc(t, l)), "chunk of %s at %d", e.Name, l.Offset)
		_, ok = x.Chunk(e.ChunkDigest)
		assert.True(t, ok)
		n++
	}
}

func TestIndexesAllLayers(t *testing.T) {
	f := newFixture(t)
	x := open(t, f.store)
	assert.Empty(t, x.Problems())
	st := x.Stats()
	assert.Equal(t, 3, st.Layers)
	assert.Equal(t, 3, st.Built)
	assert.Zero(t, st.Loaded)

	kinds := map[string]index.Kind{}
	for _, li := range x.Layers() {
		kinds[li.ID] = li.Kind
	}
	assert.Equal(t, map[string]index.Kind{f.ours.ID: index.KindTOC, f.theirs.ID: index.KindTOC, f.plain.ID: index.KindFiles}, kinds)

	checkFiles(t, x, f.ours.ID, f.oursTar)
	checkFiles(t, x, f.theirs.ID, f.theirsTar)
	checkFiles(t, x, f.plain.ID, f.plainTar)
	assert.Greater(t, checkChunks(t, x, f.store, f.ours.ID), 10)
	assert.Greater(t, checkChunks(t, x, f.store, f.theirs.ID), 10)

	// Unknown and non-sha256 digests are not found.
	assert.Empty(t, x.Lookup(digest.FromString("nowhere")))
	assert.Empty(t, x.Lookup(digest.SHA512.FromString("x")))
	_, ok := x.File("garbage")
	assert.False(t, ok)
	// Empty files, whiteouts and non-regular files are never indexed.
	assert.Empty(t, x.Lookup(toc.EmptyDigest))
}

func TestPersistence(t *testing.T) {
	f := newFixture(t)
	x := open(t, f.store)
	require.Equal(t, 3, x.Stats().Built)
	require.NoError(t, x.Close())
	require.NoError(t, x.Close(), "Close is idempotent")
	assert.Empty(t, x.Lookup(regularFiles(t, f.oursTar)["usr/bin/big"]), "no lookups after Close")

	// A second Open loads every file as is.
	x = open(t, f.store)
	st := x.Stats()
	assert.Equal(t, 3, st.Loaded)
	assert.Zero(t, st.Built)
	assert.Empty(t, x.Problems())
	checkFiles(t, x, f.ours.ID, f.oursTar)
	require.NoError(t, x.Close())

	file := filepath.Join(f.indexDir(), f.ours.ID+".cdx")
	damage := []struct {
		name string
		do   func(b []byte) []byte
		want error
	}{
		{"flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }, index.ErrCorrupt},
		{"truncated", func(b []byte) []byte { return b[:len(b)-100] }, index.ErrCorrupt},
		{"empty", func([]byte) []byte { return nil }, index.ErrCorrupt},
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }, index.ErrCorrupt},
		{"version bump", func(b []byte) []byte { b[8]++; return b }, index.ErrVersion},
	}
	for _, tc := range damage {
		t.Run(tc.name, func(t *testing.T) {
			b, err := os.ReadFile(file)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(file, tc.do(b), 0o600))
			x := open(t, f.store)
			st := x.Stats()
			assert.Equal(t, 1, st.Built)
			assert.Equal(t, 2, st.Loaded)
			probs := x.Problems()
			require.Len(t, probs, 1)
			var le *index.LayerError
			require.ErrorAs(t, probs[0], &le)
			assert.Equal(t, f.ours.ID, le.Layer)
			assert.ErrorIs(t, probs[0], tc.want)
			checkFiles(t, x, f.ours.ID, f.oursTar)
			require.NoError(t, x.Close())
			// Rebuilt: the next Open trusts it again.
			x = open(t, f.store)
			assert.Equal(t, 3, x.Stats().Loaded)
		})
	}

	// A layer from another store's index file is stale here.
	other := filepath.Join(f.indexDir(), f.theirs.ID+".cdx")
	b, err := os.ReadFile(other)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, b, 0o600))
	x = open(t, f.store)
	assert.Equal(t, 1, x.Stats().Built)
	require.Len(t, x.Problems(), 1)
	assert.ErrorIs(t, x.Problems()[0], index.ErrStale)
	require.NoError(t, x.Close())

	// Deleting a layer removes its file and its entries.
	plainFile := filepath.Join(f.indexDir(), f.plain.ID+".cdx")
	require.FileExists(t, plainFile)
	require.NoError(t, f.store.DeleteLayer(f.plain.ID))
	x = open(t, f.store)
	st = x.Stats()
	assert.Equal(t, 1, st.Removed)
	assert.Equal(t, 2, st.Layers)
	assert.NoFileExists(t, plainFile)
	for name, d := range regularFiles(t, f.plainTar) {
		_, ok := inLayer(x.Lookup(d), f.plain.ID)
		assert.False(t, ok, name)
	}
	require.NoError(t, x.Close())

	// Adding a layer indexes only the new one.
	newTar := testutil.TarBytes(t, testutil.RichTree(4))
	added := testutil.PutLayer(t, f.store, testutil.Gzip(t, newTar).Blob, "")
	x = open(t, f.store)
	st = x.Stats()
	assert.Equal(t, 1, st.Built)
	assert.Equal(t, 2, st.Loaded)
	assert.Equal(t, added.ID, x.Layers()[0].ID, "newest first")
	checkFiles(t, x, added.ID, newTar)
}

// A layer deleted and re-created under the same ID is a new layer.
func TestRecreatedLayerIsRebuilt(t *testing.T) {
	store := testutil.NewOverlayStore(t, nil)
	tar1 := testutil.TarBytes(t, testutil.RichTree(5))
	tar2 := testutil.TarBytes(t, testutil.RichTree(6))
	l, _, err := store.PutLayer("fixed-id", "", nil, "", false, nil, bytes.NewReader(testutil.Gzip(t, tar1).Blob))
	require.NoError(t, err)
	x := open(t, store)
	checkFiles(t, x, l.ID, tar1)
	require.NoError(t, x.Close())

	require.NoError(t, store.DeleteLayer(l.ID))
	l, _, err = store.PutLayer("fixed-id", "", nil, "", false, nil, bytes.NewReader(testutil.Gzip(t, tar2).Blob))
	require.NoError(t, err)
	x = open(t, store)
	assert.Equal(t, 1, x.Stats().Built)
	checkFiles(t, x, l.ID, tar2)
}

func TestWithoutFileLayers(t *testing.T) {
	f := newFixture(t)
	x := open(t, f.store, index.WithoutFileLayers(), index.WithDir(t.TempDir()))
	st := x.Stats()
	assert.Equal(t, 2, st.Layers)
	assert.Equal(t, 1, st.Skipped)
	for _, li := range x.Layers() {
		assert.NotEqual(t, f.plain.ID, li.ID)
	}
}

// Lookups from many goroutines agree with one another and with a serial
// run, and a Close in the middle of them is safe (run with -race).
func TestConcurrentLookups(t *testing.T) {
	f := newFixture(t)
	x := open(t, f.store)
	var digests []digest.Digest
	for _, tb := range [][]byte{f.oursTar, f.theirsTar, f.plainTar} {
		for _, d := range regularFiles(t, tb) {
			digests = append(digests, d)
		}
	}
	want := make([][]index.Location, len(digests))
	for i, d := range digests {
		want[i] = x.Lookup(d)
		require.NotEmpty(t, want[i])
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for r := range 20 {
				for i := range digests {
					j := (i + g*7 + r) % len(digests)
					if !assert.Equal(t, want[j], x.Lookup(digests[j])) {
						return
					}
					l, ok := x.Chunk(digests[j])
					if !assert.True(t, ok) || !assert.Equal(t, want[j][0], l) {
						return
					}
				}
			}
		})
	}
	wg.Wait()

	// Close while lookups run: they see either the view or nothing.
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				j := i % len(digests)
				if got := x.Lookup(digests[j]); got != nil {
					assert.Equal(t, want[j], got)
				}
			}
		})
	}
	require.NoError(t, x.Close())
	close(stop)
	wg.Wait()
	assert.Nil(t, x.Lookup(digests[0]))
}
