package differ

import (
	"fmt"
	"testing"

	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eStargz layers built by estargz.Build, with several chunk sizes and with
// and without prioritized files (landmarks), apply into a real overlay store
// with the files an ordinary pull of the same tar gives. Upstream panics
// here ("close of closed channel", a gzip reader reused after Close).
func TestEStargzRoundTrip(t *testing.T) {
	entries := testutil.RichTree(21)
	tarBytes := testutil.TarBytes(t, entries)
	plain := testutil.NewOverlayStore(t, nil)
	ordinary := testutil.PutLayer(t, plain, tarBytes, "")
	ref := testutil.Snapshot(t, testutil.LayerDir(t, plain, ordinary.ID))

	for _, tc := range []struct {
		chunkSize   int
		prioritized []string
	}{
		{4 << 10, nil},
		{64 << 10, nil},
		{4 << 20, nil},
		{64 << 10, []string{"etc/config", "usr/bin/sh"}},
	} {
		t.Run(fmt.Sprintf("chunk%d/prio%d", tc.chunkSize, len(tc.prioritized)), func(t *testing.T) {
			layer := testutil.EStargz(t, tarBytes, tc.chunkSize, tc.prioritized)
			store := testutil.NewOverlayStore(t, partialInsec)
			l, out, dump := pullOurs(t, store, layer, "")
			assert.Equal(t, int64(-1), out.Size, "eStargz has no tar-split: size unknown")
			assert.Empty(t, out.UncompressedDigest)
			assert.Nil(t, out.TarSplit)
			assert.Equal(t, layer.TOCDigest, out.TOCDigest)
			assert.Equal(t, states.Applied, dump.State)
			ours := testutil.Snapshot(t, testutil.LayerDir(t, store, l.ID))
			assert.Empty(t, testutil.Diff(ref, ours), "eStargz partial pull vs ordinary pull")
		})
	}
}

// A multi-thousand-file eStargz layer end to end.
func TestEStargzLargeLayer(t *testing.T) {
	if testing.Short() {
		t.Skip("large layer")
	}
	entries := testutil.RealisticEntries(testutil.RealisticOptions{Seed: 3, Files: 3000, TotalBytes: 24 << 20})
	tarBytes := testutil.TarBytes(t, entries)
	layer := testutil.EStargz(t, tarBytes, 256<<10, nil)
	store := testutil.NewOverlayStore(t, partialInsec)
	l, _, dump := pullOurs(t, store, layer, "")
	require.NotNil(t, dump.Apply)
	assert.GreaterOrEqual(t, dump.Apply.FilesFetched, 2500)

	plain := testutil.NewOverlayStore(t, nil)
	ordinary := testutil.PutLayer(t, plain, tarBytes, "")
	assert.Empty(t, testutil.Diff(
		testutil.Snapshot(t, testutil.LayerDir(t, plain, ordinary.ID)),
		testutil.Snapshot(t, testutil.LayerDir(t, store, l.ID))))
}
