package differ

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	dcontext "github.com/chunkdiff/chunkdiff/differ/context"
	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	graphdriver "go.podman.io/storage/drivers"
)

// An invalid Config is refused up front, naming the field, with no differ
// and no request made.
func TestNewValidatesConfig(t *testing.T) {
	l := zstdLayer(t)
	src := testutil.NewSource(l.Blob)
	layer := Layer{Digest: l.Digest, Size: l.Size(), Annotations: l.Annotations, Source: src}
	pull := enabled
	notDir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notDir, nil, 0o644))
	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"no pull options":    {Config{}, "Pull"},
		"index, no store":    {Config{Pull: &pull, ContentIndex: true}, "ContentIndex"},
		"negative limit":     {Config{Pull: &pull, Limits: dcontext.Limits{MaxTarSplitSize: -1}}, "MaxTarSplitSize"},
		"missing temp dir":   {Config{Pull: &pull, TempDir: filepath.Join(t.TempDir(), "gone")}, "TempDir"},
		"temp dir not a dir": {Config{Pull: &pull, TempDir: notDir}, "TempDir"},
	} {
		d, err := New(t.Context(), layer, tc.cfg)
		assert.Nil(t, d, name)
		assert.ErrorContains(t, err, tc.want, name)
	}
	assert.Empty(t, src.Requests())
	_, err := Open(t.Context(), enabled, l.Digest, l.Size(), l.Annotations, src, dcontext.WithStorePaths("/g", "/r"))
	assert.ErrorContains(t, err, "store paths")
}

// Config fields reach the context: limits (defaults filled) and temp dir.
func TestNewAppliesConfig(t *testing.T) {
	l := zstdLayer(t)
	dir := t.TempDir()
	d, err := New(t.Context(), Layer{Digest: l.Digest, Size: l.Size(), Annotations: l.Annotations, Source: testutil.NewSource(l.Blob)},
		Config{Pull: &enabled, Limits: dcontext.Limits{MaxRangesPerRequest: 7}, TempDir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	assert.Equal(t, dir, d.Context().TempDir())
	assert.Equal(t, 7, d.Context().Limits().MaxRangesPerRequest)
	assert.Equal(t, int64(dcontext.DefaultMaxTOCSize), d.Context().Limits().MaxTOCSize)
}

// Only a registry origin opens the content index: a layer waiting for
// conversion never uses it, so it must not open (or build) it.
func TestConvertPendingDoesNotOpenTheIndex(t *testing.T) {
	testutil.RequireOverlay(t)
	pull := map[string]string{"enable_partial_images": "true", "convert_images": "true"}
	l := gzipLayer(t)
	d, err := OpenWithStore(t.Context(), testutil.NewOverlayStore(t, pull), l.Digest, l.Size(), l.Annotations, testutil.NewSource(l.Blob))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	require.Equal(t, states.ConvertPending, d.State())
	assert.Nil(t, d.Dump().Index)

	z := zstdLayer(t)
	d2, err := OpenWithStore(t.Context(), testutil.NewOverlayStore(t, pull), z.Digest, z.Size(), z.Annotations, testutil.NewSource(z.Blob))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d2.Close() })
	require.Equal(t, states.MetadataLoaded, d2.State())
	assert.NotNil(t, d2.Dump().Index, "a registry origin opens the index")
}

// ApplyDiff claims the phase: of two concurrent calls, one applies and the
// other gets ErrUsed.
func TestConcurrentApplyDiffClaimsOnce(t *testing.T) {
	d, _, err := openZstd(t, enabled)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		dest := t.TempDir()
		wg.Go(func() {
			out, err := d.ApplyDiff(dest, nil, &graphdriver.DifferOptions{})
			if out.TarSplit != nil {
				_ = out.TarSplit.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	var used, ok int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case assert.ErrorIs(t, err, ErrUsed):
			used++
		}
	}
	assert.Equal(t, 1, ok)
	assert.Equal(t, 1, used)
	assert.Equal(t, states.Applied, d.State())
}
