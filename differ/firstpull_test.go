package differ

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/index"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The first partial pull into a store filled by ordinary pulls reuses their
// files without hashing those layers up front: they are looked up by the
// paths the TOC asks for, and nothing is written to the index for them.
func TestFirstPullOverOrdinaryLayers(t *testing.T) {
	p := getPair(t)
	store := testutil.NewOverlayStore(t, partial)
	base := testutil.PutLayer(t, store, testutil.Gzip(t, p.baseTar).Blob, "")

	upd, out, dump := pullOurs(t, store, p.upd, base.ID)
	assert.Equal(t, digest.FromBytes(p.updTar), out.UncompressedDigest)
	require.NotNil(t, dump.Index)
	assert.Equal(t, 1, dump.Index.ByPath)
	assert.Zero(t, dump.Index.Built, "the ordinary layer was not read up front")
	_, err := os.Stat(filepath.Join(store.GraphRoot(), index.DirName, base.ID+".cdx"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	a := dump.Apply
	require.NotNil(t, a)
	assert.Positive(t, a.Reuse.FilesCopied, "unchanged files come from the ordinary layer")
	assert.Less(t, a.BytesFetched, p.upd.Size()/2)

	plain := testutil.NewOverlayStore(t, nil)
	pb := testutil.PutLayer(t, plain, p.baseTar, "")
	pu := testutil.PutLayer(t, plain, p.updTar, pb.ID)
	assert.Empty(t, testutil.Diff(
		testutil.Snapshot(t, testutil.LayerDir(t, plain, pu.ID)),
		testutil.Snapshot(t, testutil.LayerDir(t, store, upd.ID))))
}
