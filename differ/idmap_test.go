package differ

import (
	"os"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/chunked"
	"go.podman.io/storage/pkg/idtools"
)

var shift100k = []idtools.IDMap{{ContainerID: 0, HostID: 100000, Size: 1000000}}

// applyBoth applies layer into two fresh directories with the same options,
// once with our differ and once with upstream's, and returns both snapshots
// and upstream's error.
func applyBoth(t *testing.T, layer testutil.Layer, opts func() *archive.TarOptions) (ours, theirs map[string]testutil.FileInfo, upErr error) {
	t.Helper()
	store := testutil.NewOverlayStore(t, partial)

	oursDir := t.TempDir()
	d, err := OpenWithStore(t.Context(), store, layer.Digest, layer.Size(), layer.Annotations, testutil.NewSource(layer.Blob))
	require.NoError(t, err)
	defer d.Close()
	out, err := d.ApplyDiff(oursDir, opts(), &graphdriver.DifferOptions{})
	require.NoError(t, err)
	if out.TarSplit != nil {
		out.TarSplit.Close()
	}

	theirsDir := t.TempDir()
	ud, err := chunked.NewDiffer(t.Context(), store, layer.Digest, layer.Size(), layer.Annotations, testutil.NewSource(layer.Blob))
	require.NoError(t, err)
	defer ud.Close()
	uout, upErr := ud.ApplyDiff(theirsDir, opts(), &graphdriver.DifferOptions{})
	if uout.TarSplit != nil {
		uout.TarSplit.Close()
	}
	return testutil.Snapshot(t, oursDir), testutil.Snapshot(t, theirsDir), upErr
}

// ordinaryApply extracts the layer's tar with pkg/archive (an ordinary pull)
// with the same options.
func ordinaryApply(t *testing.T, tarBytes []byte, opts *archive.TarOptions) map[string]testutil.FileInfo {
	dir := t.TempDir()
	require.NoError(t, archive.Untar(bytesReader(tarBytes), dir, opts))
	return testutil.Snapshot(t, dir)
}

func TestIDMapsMatchAnOrdinaryPull(t *testing.T) {
	layer := zstdLayer(t)
	opts := func() *archive.TarOptions { return &archive.TarOptions{UIDMaps: shift100k, GIDMaps: shift100k} }
	ours, theirs, upErr := applyBoth(t, layer, opts)
	ref := ordinaryApply(t, richTarLocked(t), opts())
	assert.Empty(t, testutil.Diff(ref, ours), "chunkdiff vs ordinary pull with ID maps")
	for name, fi := range ours {
		assert.GreaterOrEqual(t, fi.UID, 100000, name)
		assert.GreaterOrEqual(t, fi.GID, 100000, name)
	}
	if upErr != nil {
		t.Logf("upstream's differ with the same maps: %v", upErr)
	} else {
		for _, d := range testutil.Diff(ref, theirs, testutil.IgnoreDirMtimes()) {
			t.Logf("upstream vs ordinary: %s", d)
		}
	}
}

func TestForceMaskMatchesAnOrdinaryPull(t *testing.T) {
	layer := zstdLayer(t)
	mask := os.FileMode(0o700)
	opts := func() *archive.TarOptions { return &archive.TarOptions{ForceMask: &mask} }
	ours, theirs, upErr := applyBoth(t, layer, opts)
	require.NoError(t, upErr)
	ref := ordinaryApply(t, richTarLocked(t), opts())
	assert.Empty(t, testutil.Diff(ref, ours), "chunkdiff vs ordinary pull with ForceMask")
	for _, d := range testutil.Diff(ref, theirs, testutil.IgnoreDirMtimes()) {
		t.Logf("upstream vs ordinary: %s", d)
	}
}
