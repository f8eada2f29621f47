package differ

import (
	"os"
	"runtime"
	"testing"
	"time"

	dcontext "github.com/chunkdiff/chunkdiff/differ/context"
	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
)

// pullBoth pulls layer with our differ and with upstream's into two stores
// with the same pull options, and returns both outputs and layers.
func pullBoth(t *testing.T, layer testutil.Layer, pull map[string]string) (ours, theirs *graphdriver.DriverWithDifferOutput, oursDir, theirsDir string) {
	ours, theirs, oursDir, theirsDir, _ = pullBothTar(t, layer, pull)
	return
}

// pullBothTar is pullBoth, also returning the tar stream the store gives
// back for our layer (store.Diff, built from the stored tar-split).
func pullBothTar(t *testing.T, layer testutil.Layer, pull map[string]string) (ours, theirs *graphdriver.DriverWithDifferOutput, oursDir, theirsDir string, oursTar []byte) {
	t.Helper()
	store := testutil.NewOverlayStore(t, pull)
	d, err := OpenWithStore(t.Context(), store, layer.Digest, layer.Size(), layer.Annotations, testutil.NewSource(layer.Blob))
	require.NoError(t, err)
	defer d.Close()
	ours, err = store.PrepareStagedLayer(nil, d)
	require.NoError(t, err)
	require.Equal(t, states.Applied, d.State())
	l := testutil.ApplyStaged(t, store, ours, "")

	upStore := testutil.NewOverlayStore(t, pull)
	theirs, err = testutil.UpstreamPull(t, upStore, layer, nil)
	require.NoError(t, err)
	ul := testutil.ApplyStaged(t, upStore, theirs, "")
	return ours, theirs, testutil.LayerDir(t, store, l.ID), testutil.LayerDir(t, upStore, ul.ID), testutil.LayerTar(t, store, l.ID)
}

// With insecure_allow_unpredictable_image_contents a layer with a tar-split
// skips the DiffID computation, as upstream: no UncompressedDigest, the
// tar-split still kept, the files those of an ordinary pull.
func TestInsecureSkipsDiffIDWithTarSplit(t *testing.T) {
	layer := zstdLayer(t)
	tarBytes := richTarLocked(t)
	ours, theirs, dir, _, oursTar := pullBothTar(t, layer, partialInsec)
	assert.Empty(t, theirs.UncompressedDigest, "upstream skips it")
	assert.Empty(t, ours.UncompressedDigest)
	assert.Equal(t, tarBytes, oursTar, "the tar-split is still stored: store.Diff gives the layer back")
	assert.Equal(t, theirs.Size, ours.Size)
	assert.Equal(t, int64(len(tarBytes)), ours.Size)

	plain := testutil.NewOverlayStore(t, nil)
	pl := testutil.PutLayer(t, plain, tarBytes, "")
	assert.Empty(t, testutil.Diff(testutil.Snapshot(t, testutil.LayerDir(t, plain, pl.ID)), testutil.Snapshot(t, dir)))
}

// The output's UIDs and GIDs are the sets upstream reports (c/image checks
// them against the store's ID mappings).
func TestUIDsAndGIDsAsUpstream(t *testing.T) {
	ours, theirs, _, _ := pullBoth(t, zstdLayer(t), partial)
	require.NotEmpty(t, theirs.UIDs)
	assert.ElementsMatch(t, theirs.UIDs, ours.UIDs)
	assert.ElementsMatch(t, theirs.GIDs, ours.GIDs)
	assert.Greater(t, len(ours.UIDs)+len(ours.GIDs), 2, "the rich tree has several owners")
}

// A zstd:chunked layer without a tar-split, with the insecure option, is
// applied end to end: same files as an ordinary extraction of its content,
// no UncompressedDigest, like upstream.
func TestNoTarSplitEndToEnd(t *testing.T) {
	layer := withoutTarSplit(t)
	ours, theirs, dir, theirsDir := pullBoth(t, layer, partialInsec)
	assert.Empty(t, ours.UncompressedDigest)
	assert.Empty(t, theirs.UncompressedDigest)
	assert.Nil(t, ours.TarSplit)
	assert.Equal(t, theirs.TOCDigest, ours.TOCDigest)

	dest := t.TempDir()
	require.NoError(t, archive.Untar(bytesReader(richTarLocked(t)), dest, &archive.TarOptions{}))
	diff := testutil.Diff(testutil.Snapshot(t, dest), testutil.Snapshot(t, dir))
	assert.Empty(t, diff, "ours against an ordinary extraction")
	t.Logf("upstream against an ordinary extraction: %d differences", len(testutil.Diff(testutil.Snapshot(t, dest), testutil.Snapshot(t, theirsDir))))
}

// openFDs counts this process's open file descriptors, after collecting
// garbage so that files an earlier test left unreachable are closed by their
// finalizers first and do not vanish in the middle of a comparison.
func openFDs(t *testing.T) int {
	t.Helper()
	runtime.GC()
	runtime.GC() // the first queues the finalizers, the second lets them run
	time.Sleep(10 * time.Millisecond)
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

// Close releases every file descriptor the differ opened (spools are
// unlinked at creation, so counting files in the temp dir cannot show it),
// after a load, after an apply, and after a failed apply.
func TestCloseReleasesFileDescriptors(t *testing.T) {
	l := zstdLayer(t)
	tmp := t.TempDir()
	open := func(src *testutil.Source) *Differ {
		d, err := Open(t.Context(), enabled, l.Digest, l.Size(), l.Annotations, src, dcontext.WithTempDir(tmp))
		require.NoError(t, err)
		return d
	}

	// A first round opens what lives for the whole process (the openat2
	// probe's, the runtime's); the differ's own must not accumulate.
	d := open(testutil.NewSource(l.Blob))
	out, err := d.ApplyDiff(t.TempDir(), &archive.TarOptions{}, &graphdriver.DifferOptions{})
	require.NoError(t, err)
	require.NoError(t, out.TarSplit.Close())
	require.NoError(t, d.Close())

	before := openFDs(t)
	d = open(testutil.NewSource(l.Blob))
	assert.Greater(t, openFDs(t), before, "the loaded metadata holds spools")
	require.NoError(t, d.Close())
	assert.LessOrEqual(t, openFDs(t), before, "after a load")

	d = open(testutil.NewSource(l.Blob))
	out, err = d.ApplyDiff(t.TempDir(), &archive.TarOptions{}, &graphdriver.DifferOptions{})
	require.NoError(t, err)
	require.NotNil(t, out.TarSplit, "the tar-split goes to the caller (the store closes it)")
	require.NoError(t, out.TarSplit.Close())
	require.NoError(t, d.Close())
	assert.LessOrEqual(t, openFDs(t), before, "after an apply")

	d = open(testutil.NewSource(l.Blob, testutil.FromCall(2, testutil.CorruptStreams(0))))
	out, err = d.ApplyDiff(t.TempDir(), &archive.TarOptions{}, &graphdriver.DifferOptions{})
	require.Error(t, err)
	assert.Nil(t, out.TarSplit, "a failed apply hands nothing over")
	require.NoError(t, d.Close())
	assert.LessOrEqual(t, openFDs(t), before, "after a failed apply")
}
