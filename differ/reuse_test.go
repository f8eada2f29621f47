package differ

import (
	"archive/tar"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/loopfs"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	storage "go.podman.io/storage"
	"go.podman.io/storage/types"
)

// updatePair is a base tree and a patch-release-like update of it, as
// zstd:chunked layers (built once: compression is slow under -race).
type updatePair struct {
	baseTar, updTar []byte
	base, upd       testutil.Layer
	updEntries      []testutil.Entry
}

var (
	pairOnce sync.Once
	pair     updatePair
)

func getPair(t *testing.T) updatePair {
	pairOnce.Do(func() {
		base := testutil.RealisticEntries(testutil.RealisticOptions{Seed: 5, Files: 600, TotalBytes: 24 << 20})
		upd := testutil.Update(base, testutil.UpdateOptions{Seed: 6})
		pair.baseTar, pair.updTar = testutil.TarBytes(t, base), testutil.TarBytes(t, upd)
		pair.base, pair.upd = testutil.ZstdChunked(t, pair.baseTar), testutil.ZstdChunked(t, pair.updTar)
		pair.updEntries = upd
	})
	return pair
}

// pullPair pulls base then update with our differ; returns the update's
// layer and dump.
func pullPair(t *testing.T, store storage.Store, p updatePair) (*storage.Layer, *storage.Layer, Dump) {
	base, _, _ := pullOurs(t, store, p.base, "")
	upd, out, dump := pullOurs(t, store, p.upd, base.ID)
	require.Equal(t, digest.FromBytes(p.updTar), out.UncompressedDigest)
	return base, upd, dump
}

// An update pulled on top of its base fetches close to the lower bound
// (the pieces the store does not have), far less than upstream on a
// filesystem without reflinks, and gives the same files as an ordinary pull.
func TestUpdateFetchesOnlyWhatTheStoreLacks(t *testing.T) {
	p := getPair(t)
	store := testutil.NewOverlayStore(t, partial)
	_, upd, dump := pullPair(t, store, p)
	a := dump.Apply
	require.NotNil(t, a)
	t.Logf("ours: fetched %d B in %d requests; lower bound %d B; %d files copied, %d chunks local (%d B); blob %d B",
		a.BytesFetched, a.Requests, a.Reuse.LowerBound, a.Reuse.FilesCopied, a.Reuse.ChunksLocal, a.LocalChunkBytes, p.upd.Size())
	assert.Positive(t, a.Reuse.FilesCopied)
	assert.Positive(t, a.Reuse.ChunksLocal, "edited big files reuse their unchanged chunks")
	assert.LessOrEqual(t, float64(a.BytesFetched), 1.1*float64(a.Reuse.LowerBound), "fetched ≤ 1.1 × lower bound")
	assert.Less(t, a.BytesFetched, p.upd.Size()/4)
	assert.Equal(t, p.upd.Size()-a.MetadataBytes-a.BytesFetched, a.Skipped, "neither metadata nor contents")
	assert.Equal(t, int64(dump.Metadata.TOCCompressedSize+dump.Metadata.TarSplitCompressedSize), a.MetadataBytes)

	// Upstream, same pair, same kind of store.
	upStore := testutil.NewOverlayStore(t, partial)
	upSrc := testutil.NewSource(p.upd.Blob)
	bOut, err := testutil.UpstreamPull(t, upStore, p.base, nil)
	require.NoError(t, err)
	ub := testutil.ApplyStaged(t, upStore, bOut, "")
	uOut, err := testutil.UpstreamPull(t, upStore, p.upd, upSrc)
	require.NoError(t, err)
	testutil.ApplyStaged(t, upStore, uOut, ub.ID)
	t.Logf("upstream: fetched %d B in %d requests", upSrc.BytesServed(), len(upSrc.Requests()))
	assert.Less(t, a.BytesFetched, upSrc.BytesServed(), "fewer bytes than upstream")
	assert.LessOrEqual(t, a.Requests, len(upSrc.Requests()), "no more requests than upstream")

	plain := testutil.NewOverlayStore(t, nil)
	pb := testutil.PutLayer(t, plain, p.baseTar, "")
	pu := testutil.PutLayer(t, plain, p.updTar, pb.ID)
	assert.Empty(t, testutil.Diff(
		testutil.Snapshot(t, testutil.LayerDir(t, plain, pu.ID)),
		testutil.Snapshot(t, testutil.LayerDir(t, store, upd.ID))))
}

// A file changed on disk after it was indexed is not reused: its hit is
// rejected and the content fetched, and the layer is still right.
func TestCorruptedSourceIsNotReused(t *testing.T) {
	p := getPair(t)
	store := testutil.NewOverlayStore(t, partial)
	base, _, _ := pullOurs(t, store, p.base, "")
	// Index the base now (the next differ finds the index up to date).
	d0, err := OpenWithStore(t.Context(), store, p.upd.Digest, p.upd.Size(), p.upd.Annotations, testutil.NewSource(p.upd.Blob))
	require.NoError(t, err)
	require.NoError(t, d0.Close())
	// Corrupt every regular file of the base layer in place.
	dir := testutil.LayerDir(t, store, base.ID)
	var corrupted int
	require.NoError(t, filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() || info.Size() == 0 {
			return err
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.WriteAt([]byte{0xde, 0xad}, info.Size()/2)
		corrupted++
		return err
	}))
	require.Positive(t, corrupted)
	_, out, dump := pullOurs(t, store, p.upd, base.ID)
	assert.Equal(t, digest.FromBytes(p.updTar), out.UncompressedDigest, "the layer is right")
	assert.Positive(t, dump.Apply.Reuse.Rejected, "stale hits were rejected")
	assert.Zero(t, dump.Apply.Reuse.FilesCopied)
}

// With use_hard_links, unchanged files whose attributes match are hard
// links to the base layer's; a file whose mode changed is copied, not
// fetched. Without the option nothing is linked.
func TestHardLinksOnlyWhenAllowedAndMatching(t *testing.T) {
	p := getPair(t)
	// The update, with one unchanged file given another mode.
	var changed string
	entries := make([]testutil.Entry, len(p.updEntries))
	for i, e := range p.updEntries {
		h := *e.Header
		if changed == "" && h.Typeflag == tar.TypeReg && h.Size > 4096 && string(e.Data) == string(baseData(p, h.Name)) {
			changed = h.Name
			h.Mode = 0o600
		}
		entries[i] = testutil.Entry{Header: &h, Data: e.Data}
	}
	require.NotEmpty(t, changed)
	upd := testutil.ZstdChunked(t, testutil.TarBytes(t, entries))

	for _, links := range []bool{false, true} {
		t.Run(map[bool]string{false: "without", true: "with"}[links], func(t *testing.T) {
			opts := partial
			if links {
				opts = withOpts(partial, "use_hard_links", "true")
			}
			store := testutil.NewOverlayStore(t, opts)
			base, _, _ := pullOurs(t, store, p.base, "")
			l, _, dump := pullOurs(t, store, upd, base.ID)
			a := dump.Apply.Reuse
			baseDir, updDir := testutil.LayerDir(t, store, base.ID), testutil.LayerDir(t, store, l.ID)
			if !links {
				assert.Zero(t, a.FilesLinked)
				assert.Positive(t, a.FilesCopied)
				return
			}
			assert.Positive(t, a.FilesLinked)
			assert.Positive(t, a.FilesCopied, "the file whose mode changed is copied, not fetched")
			assert.False(t, sameInode(t, filepath.Join(baseDir, changed), filepath.Join(updDir, changed)), "mode differs: not linked")
			fi, err := os.Stat(filepath.Join(updDir, changed))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		})
	}
}

func baseData(p updatePair, name string) []byte {
	for _, e := range testutil.RealisticEntries(testutil.RealisticOptions{Seed: 5, Files: 600, TotalBytes: 24 << 20}) {
		if e.Header.Name == name {
			return e.Data
		}
	}
	return nil
}

func sameInode(t *testing.T, a, b string) bool {
	sa, err := os.Stat(a)
	require.NoError(t, err)
	sb, err := os.Stat(b)
	require.NoError(t, err)
	return sa.Sys().(*syscall.Stat_t).Ino == sb.Sys().(*syscall.Stat_t).Ino
}

// A source layer deleted between NewDiffer and ApplyDiff never breaks the
// pull: its content is fetched instead.
func TestDeletedSourceLayer(t *testing.T) {
	p := getPair(t)
	store := testutil.NewOverlayStore(t, partial)
	base, _, _ := pullOurs(t, store, p.base, "")
	d, err := OpenWithStore(t.Context(), store, p.upd.Digest, p.upd.Size(), p.upd.Annotations, testutil.NewSource(p.upd.Blob))
	require.NoError(t, err)
	defer d.Close()
	require.NoError(t, store.DeleteLayer(base.ID))
	out, err := store.PrepareStagedLayer(nil, d)
	require.NoError(t, err)
	defer store.CleanupStagedLayer(out)
	assert.Equal(t, digest.FromBytes(p.updTar), out.UncompressedDigest)
	assert.Zero(t, d.Dump().Apply.Reuse.FilesCopied)
}

// On a filesystem with reflinks (XFS), reused files share extents.
func TestReflinkReuse(t *testing.T) {
	mnt := loopfs.Mount(t, 512, "mkfs.xfs", "-q", "-m", "reflink=1")
	store, err := storage.GetStore(types.StoreOptions{
		RunRoot: filepath.Join(mnt, "run"), GraphRoot: filepath.Join(mnt, "graph"),
		GraphDriverName: "overlay", PullOptions: partial,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = store.Shutdown(true) })
	_, _, dump := pullPair(t, store, getPair(t))
	assert.Positive(t, dump.Apply.Reuse.FilesReflinked)
	assert.Equal(t, dump.Apply.Reuse.FilesCopied, dump.Apply.Reuse.FilesReflinked, "every copy is a reflink on XFS")
}
