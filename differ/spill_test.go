package differ

import (
	"archive/tar"
	"fmt"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/offsets"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/chunkdiff/chunkdiff/internal/treegen"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
)

// A layer with more files and hard links than an offsets list holds in
// memory: the lists spill to disk mid-layer and are read back while
// fetching and reassembling the DiffID, in both output formats.
func TestListsSpillingMidLayer(t *testing.T) {
	n := offsets.BufferValues + offsets.PageValues + 100
	var entries []treegen.Entry
	for d := range n / 1000 {
		entries = append(entries, treegen.Entry{Header: &tar.Header{Typeflag: tar.TypeDir, Name: fmt.Sprintf("d%02d/", d), Mode: 0o755, ModTime: treegen.Epoch}})
	}
	name := func(i int) string { return fmt.Sprintf("d%02d/f%05d", (i/1000)%(n/1000), i) }
	for i := range n {
		data := fmt.Appendf(nil, "file %d\n", i)
		entries = append(entries, treegen.Entry{Header: &tar.Header{Typeflag: tar.TypeReg, Name: name(i), Mode: 0o644, Size: int64(len(data)), ModTime: treegen.Epoch}, Data: data})
	}
	for i := range n {
		entries = append(entries, treegen.Entry{Header: &tar.Header{Typeflag: tar.TypeLink, Name: name(i) + ".link", Linkname: name(i), ModTime: treegen.Epoch}})
	}
	tarBytes := testutil.TarBytes(t, entries)
	layer := testutil.ZstdChunked(t, tarBytes)

	for _, format := range []graphdriver.DifferOutputFormat{graphdriver.DifferOutputFormatDir, graphdriver.DifferOutputFormatFlat} {
		store := testutil.NewOverlayStore(t, partial)
		d, err := OpenWithStore(t.Context(), store, layer.Digest, layer.Size(), layer.Annotations, testutil.NewSource(layer.Blob))
		require.NoError(t, err)
		dest := t.TempDir()
		out, err := d.ApplyDiff(dest, &archive.TarOptions{}, &graphdriver.DifferOptions{Format: format})
		require.NoError(t, err, "format %v", format)
		if out.TarSplit != nil {
			_ = out.TarSplit.Close()
		}
		assert.Equal(t, digest.FromBytes(tarBytes), out.UncompressedDigest, "format %v", format)
		require.NotNil(t, d.Dump().Apply)
		assert.Equal(t, n, d.Dump().Apply.FilesFetched, "format %v", format)
		snap := testutil.Snapshot(t, dest)
		if format == graphdriver.DifferOutputFormatDir {
			plain := t.TempDir()
			require.NoError(t, archive.Untar(bytesReader(tarBytes), plain, &archive.TarOptions{}))
			diff := testutil.Diff(testutil.Snapshot(t, plain), snap)
			assert.Empty(t, diff[:min(len(diff), 5)], "%d differences from an ordinary extraction", len(diff))
		} else {
			assert.Len(t, snap, n+256, "one file per content, under 256 xx/ directories")
		}
		require.NoError(t, d.Close())
	}
}
