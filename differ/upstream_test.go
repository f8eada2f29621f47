package differ

import (
	"encoding/json"
	"testing"

	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// Layers written by upstream's compressor load to metadata-loaded with the
// entry count, TOC digest and uncompressed size that upstream's own differ
// reports for the same blob.
func TestLoadMatchesUpstream(t *testing.T) {
	trees := map[string]func(t *testing.T) []byte{
		"rich": richTarLocked,
		"realistic": func(t *testing.T) []byte {
			return testutil.TarBytes(t, testutil.RealisticEntries(testutil.RealisticOptions{Seed: 7, Files: 400, TotalBytes: 8 << 20}))
		},
	}
	for name, mkTar := range trees {
		t.Run(name, func(t *testing.T) {
			tarBytes := mkTar(t)
			layer := testutil.ZstdChunked(t, tarBytes)

			store := testutil.NewOverlayStore(t, partial)
			up, err := testutil.UpstreamPull(t, store, layer, nil)
			require.NoError(t, err)
			defer func() { require.NoError(t, store.CleanupStagedLayer(up)) }()
			var upTOC struct {
				Entries []json.RawMessage `json:"entries"`
			}
			require.NoError(t, json.Unmarshal(up.BigData["zstd-chunked-manifest"], &upTOC))

			d, err := OpenWithStore(t.Context(), testutil.NewOverlayStore(t, partial), layer.Digest, layer.Size(), layer.Annotations, testutil.NewSource(layer.Blob))
			require.NoError(t, err)
			defer d.Close()
			require.Equal(t, states.MetadataLoaded, d.State())
			m := d.Dump().Metadata
			assert.Equal(t, len(upTOC.Entries), m.Entries, "entry count")
			assert.Equal(t, up.TOCDigest, m.TOCDigest, "TOC digest")
			assert.Equal(t, up.Size, m.UncompressedSize, "uncompressed size")
			assert.Equal(t, int64(len(tarBytes)), m.UncompressedSize)
			assert.Equal(t, up.UncompressedDigest, layer.DiffID, "upstream computed the DiffID of our input")
		})
	}
}

func richTarLocked(t *testing.T) []byte {
	richMu.Lock()
	defer richMu.Unlock()
	return richTar(t)
}
