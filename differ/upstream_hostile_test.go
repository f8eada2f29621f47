package differ

import (
	"archive/tar"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.podman.io/storage/pkg/chunked"
)

// What upstream v1.65.1 does with the same hostile layers, so that
// docs/RELIABILITY.md's "Upstream" column is shown, not claimed.

// Upstream, with use_hard_links, changes layer 1's inode through layer 2's
// hard-link entry (TestReuseNeverChangesAnotherLayersInode: ours does not).
func TestUpstreamChangesAnotherLayersInode(t *testing.T) {
	base, updates := ownershipLayers(t)
	store := testutil.NewOverlayStore(t, withOpts(partial, "use_hard_links", "true"))
	out, err := testutil.UpstreamPull(t, store, base, nil)
	require.NoError(t, err)
	l1 := testutil.ApplyStaged(t, store, out, "")
	l1Dir := testutil.LayerDir(t, store, l1.ID)
	before := testutil.Snapshot(t, l1Dir)
	tarBytes := testutil.TarBytes(t, updates["setuid and owner"])
	out, err = testutil.UpstreamPull(t, store, testutil.ZstdChunked(t, tarBytes), nil)
	require.NoError(t, err)
	testutil.ApplyStaged(t, store, out, l1.ID)
	changed := testutil.Diff(before, testutil.Snapshot(t, l1Dir))
	t.Logf("upstream changed layer 1: %q", changed)
	assert.NotEmpty(t, changed, "upstream leaves layer 1 alone now: update docs/RELIABILITY.md")
}

// Upstream holds the whole tar-split in memory: a 64 MiB line costs it
// more than the line itself (TestTarSplitLineBomb: ours stays under
// bombAllocBound).
func TestUpstreamTarSplitLineBomb(t *testing.T) {
	layer := lineBomb(t, 64<<20)
	store := testutil.NewOverlayStore(t, partial)
	var err error
	alloc := bytesAllocated(func() {
		d, nerr := chunked.NewDiffer(t.Context(), store, layer.Digest, layer.Size(), layer.Annotations, testutil.NewSource(layer.Blob))
		if err = nerr; err == nil {
			_ = d.Close()
		}
	})
	t.Logf("upstream: %d MiB allocated, err %v", alloc>>20, err)
	assert.Greater(t, alloc, uint64(64<<20), "upstream bounds tar-split lines now: update docs/RELIABILITY.md")
	assert.Greater(t, alloc, uint64(bombAllocBound))
}

// Upstream accepts an alias that replaces a hard link, staging a tree
// other than an ordinary extraction of the tar its DiffID describes
// (TestStagedTreeIsTheTarTheDiffIDDescribes: ours refuses the layer).
func TestUpstreamStagesAnAliasedTree(t *testing.T) {
	f := testutil.Entry{Header: hostileHdr(tar.TypeReg, "f", "", 0o644), Data: []byte("the original file f")}
	entries := []testutil.Entry{f, {Header: hostileHdr(tar.TypeLink, "h", "f", 0o644)}, {Header: hostileHdr(tar.TypeSymlink, "/h", "/etc/passwd", 0o777)}}
	tarBytes := testutil.TarBytes(t, entries)
	store := testutil.NewOverlayStore(t, partial)
	out, err := testutil.UpstreamPull(t, store, craftedLayer(t, entries), nil)
	require.NoError(t, err, "upstream refuses the alias now: update docs/RELIABILITY.md")
	defer func() { _ = store.CleanupStagedLayer(out) }()
	assert.Equal(t, digest.FromBytes(tarBytes), out.UncompressedDigest)
	want, ok := ordinaryExtraction(t, tarBytes)
	got := testutil.Snapshot(t, out.Target)
	t.Logf("ordinary extraction ok=%v; upstream staged h as %+v", ok, got["h"])
	if ok {
		assert.NotEmpty(t, testutil.Diff(want, got), "upstream's staged tree equals an ordinary extraction now")
	}
}
