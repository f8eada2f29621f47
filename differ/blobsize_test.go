package differ

import (
	"testing"

	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.podman.io/storage/pkg/chunked"
)

// A blob of unknown size (-1) with a zstd:chunked TOC is pulled partially,
// as upstream does: the annotations locate the metadata.
func TestUnknownBlobSizeZstdChunked(t *testing.T) {
	layer := zstdLayer(t)
	tarBytes := richTarLocked(t)
	store := testutil.NewOverlayStore(t, partial)
	d, err := OpenWithStore(t.Context(), store, layer.Digest, -1, layer.Annotations, testutil.NewSource(layer.Blob))
	require.NoError(t, err)
	defer d.Close()
	require.Equal(t, states.MetadataLoaded, d.State())
	out, err := store.PrepareStagedLayer(nil, d)
	require.NoError(t, err)
	assert.Equal(t, digest.FromBytes(tarBytes), out.UncompressedDigest)
	l := testutil.ApplyStaged(t, store, out, "")
	assert.Equal(t, tarBytes, testutil.LayerTar(t, store, l.ID))
	assert.Zero(t, d.Dump().Apply.Skipped, "nothing can be said skipped of a blob of unknown size")

	// Upstream accepts it too.
	upStore := testutil.NewOverlayStore(t, partial)
	ud, err := chunked.NewDiffer(t.Context(), upStore, layer.Digest, -1, layer.Annotations, testutil.NewSource(layer.Blob))
	require.NoError(t, err)
	uout, err := upStore.PrepareStagedLayer(nil, ud)
	require.NoError(t, err)
	assert.Equal(t, out.UncompressedDigest, uout.UncompressedDigest)
	require.NoError(t, upStore.CleanupStagedLayer(uout))
	require.NoError(t, ud.Close())
}

// eStargz finds its TOC from the blob's end: with an unknown size it falls
// back before any request (upstream: a hard "blob too small" error), and
// convert_images converts it instead.
func TestUnknownBlobSizeEStargz(t *testing.T) {
	layer := estargzLayer(t)
	store := testutil.NewOverlayStore(t, partialInsec)
	src := testutil.NewSource(layer.Blob)
	d, err := OpenWithStore(t.Context(), store, layer.Digest, -1, layer.Annotations, src)
	require.NotNil(t, d)
	t.Cleanup(func() { _ = d.Close() })
	var fb chunked.ErrFallbackToOrdinaryLayerDownload
	require.ErrorAs(t, err, &fb)
	var ours *FallbackError
	require.ErrorAs(t, err, &ours)
	assert.Equal(t, states.CodeBlobSizeUnknown, ours.Reason.Code)
	assert.True(t, ours.CanConvert())
	assert.Empty(t, src.Requests())

	_, uerr := chunked.NewDiffer(t.Context(), store, layer.Digest, -1, layer.Annotations, testutil.NewSource(layer.Blob))
	require.Error(t, uerr)
	assert.False(t, IsFallback(uerr), "upstream fails hard: %v", uerr)

	conv := testutil.NewOverlayStore(t, withOpts(partialInsec, "convert_images", "true"))
	cd, err := OpenWithStore(t.Context(), conv, layer.Digest, -1, layer.Annotations, testutil.NewSource(layer.Blob))
	require.NoError(t, err)
	defer cd.Close()
	require.Equal(t, states.ConvertPending, cd.State())
	out, err := conv.PrepareStagedLayer(nil, cd)
	require.NoError(t, err)
	assert.Equal(t, layer.Digest, out.CompressedDigest)
	testutil.ApplyStaged(t, conv, out, "")
}
