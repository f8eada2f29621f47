package differ

import (
	"bytes"
	"testing"

	"github.com/chunkdiff/chunkdiff/formats/zstdchunked"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Blobs from our writer are applied by upstream's differ and by ours, in
// real overlay stores, with identical trees and DiffIDs.
func TestOurWriterThroughBothDiffers(t *testing.T) {
	tarBytes := richTarLocked(t)
	var blob bytes.Buffer
	res, err := zstdchunked.Compress(&blob, bytes.NewReader(tarBytes))
	require.NoError(t, err)
	layer := testutil.Layer{
		Blob: blob.Bytes(), Annotations: res.Annotations.Map(), Digest: digest.FromBytes(blob.Bytes()),
		DiffID: res.DiffID, TOCDigest: res.Annotations.TOCDigest,
	}
	require.Equal(t, digest.FromBytes(tarBytes), res.DiffID)

	store := testutil.NewOverlayStore(t, partial)
	ours, out, _ := pullOurs(t, store, layer, "")
	assert.Equal(t, res.DiffID, out.UncompressedDigest)

	upStore := testutil.NewOverlayStore(t, partial)
	upOut, err := testutil.UpstreamPull(t, upStore, layer, nil)
	require.NoError(t, err)
	assert.Equal(t, res.DiffID, upOut.UncompressedDigest, "upstream validates our TOC digest and computes the same DiffID")
	up := testutil.ApplyStaged(t, upStore, upOut, "")

	assert.Equal(t, digest.FromBytes(tarBytes), digest.FromBytes(testutil.LayerTar(t, store, ours.ID)))
	assert.Equal(t, digest.FromBytes(tarBytes), digest.FromBytes(testutil.LayerTar(t, upStore, up.ID)))
	// Same regular files (upstream's known differences are elsewhere:
	// directory and symlink times, devices).
	theirs := testutil.Snapshot(t, testutil.LayerDir(t, upStore, up.ID))
	mine := testutil.Snapshot(t, testutil.LayerDir(t, store, ours.ID))
	for name, fi := range theirs {
		if fi.Type == "reg" {
			assert.Equal(t, fi, mine[name], name)
		}
	}
}
