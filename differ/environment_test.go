package differ

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	dcontext "github.com/chunkdiff/chunkdiff/differ/context"
	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	storage "go.podman.io/storage"
	"go.podman.io/storage/pkg/chunked"
	"go.podman.io/storage/types"
	"golang.org/x/sys/unix"
)

// requireEnvFallback checks that a constructor fell back for an environmental
// reason, before fetching anything, and that convert_images did not turn it
// into a hard error.
func requireEnvFallback(t *testing.T, d *Differ, err error, src *testutil.Source, code states.Code) {
	t.Helper()
	var fb chunked.ErrFallbackToOrdinaryLayerDownload
	require.ErrorAs(t, err, &fb, "an ordinary pull works here: fall back")
	var ours *FallbackError
	require.ErrorAs(t, err, &ours)
	assert.Equal(t, code, ours.Reason.Code)
	assert.False(t, ours.CanConvert())
	dump := d.Dump()
	assert.Equal(t, states.Fallback, dump.State)
	require.NotNil(t, dump.Reason)
	assert.Equal(t, code, dump.Reason.Code)
	assert.Empty(t, src.Requests(), "decided before fetching anything")
}

// A composefs store cannot take our output (its ApplyStagedLayer wants
// upstream's internal TOC type): NewDiffer falls back before any request,
// even with convert_images.
func TestComposefsStoreFallsBack(t *testing.T) {
	testutil.RequireOverlay(t)
	// The overlay driver only checks that mkcomposefs exists when it starts;
	// nothing here runs it.
	bin := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "mkcomposefs"), []byte("#!/bin/sh\nexit 1\n"), 0o755))
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	layer := zstdLayer(t)
	for _, pull := range []map[string]string{partial, partialConvert} {
		t.Run(fmt.Sprint(pull), func(t *testing.T) {
			root, err := os.MkdirTemp("", "chunkdiff-composefs-")
			require.NoError(t, err)
			t.Cleanup(func() { _ = os.RemoveAll(root) })
			store, err := storage.GetStore(types.StoreOptions{
				RunRoot: filepath.Join(root, "run"), GraphRoot: filepath.Join(root, "graph"),
				GraphDriverName: "overlay", GraphDriverOptions: []string{"overlay.use_composefs=true"},
				PullOptions: pull,
			})
			require.NoError(t, err)
			t.Cleanup(func() { _, _ = store.Shutdown(true) })

			src := testutil.NewSource(layer.Blob)
			d, err := OpenWithStore(t.Context(), store, layer.Digest, layer.Size(), layer.Annotations, src)
			require.NotNil(t, d, "a fallback still returns the differ, for its dump")
			t.Cleanup(func() { _ = d.Close() })
			requireEnvFallback(t, d, err, src, states.CodeComposefsStore)

			nd, err := NewDiffer(t.Context(), store, layer.Digest, layer.Size(), layer.Annotations, testutil.NewSource(layer.Blob))
			assert.Nil(t, nd)
			var fb chunked.ErrFallbackToOrdinaryLayerDownload
			assert.ErrorAs(t, err, &fb)
		})
	}
}

// On a kernel without openat2 (before 5.6) no layer can be applied safely:
// every constructor falls back, with the probe's error as the reason.
func TestHostWithoutOpenat2FallsBack(t *testing.T) {
	saved := hostSupported
	hostSupported = func() error { return fmt.Errorf("openat2 probe: %w", unix.ENOSYS) }
	t.Cleanup(func() { hostSupported = saved })

	layer := zstdLayer(t)
	for _, pull := range []map[string]string{partial, partialConvert} {
		t.Run(fmt.Sprint(pull), func(t *testing.T) {
			store := testutil.NewOverlayStore(t, pull)
			src := testutil.NewSource(layer.Blob)
			d, err := OpenWithStore(t.Context(), store, layer.Digest, layer.Size(), layer.Annotations, src)
			require.NotNil(t, d, "a fallback still returns the differ, for its dump")
			t.Cleanup(func() { _ = d.Close() })
			requireEnvFallback(t, d, err, src, states.CodeHostUnsupported)
			assert.Contains(t, d.Dump().Reason.Detail, "function not implemented")
			assert.NoDirExists(t, filepath.Join(store.GraphRoot(), "chunkdiff-index"), "no index opened")
		})
	}
	src := testutil.NewSource(layer.Blob)
	d, err := Open(t.Context(), dcontext.ParsePullOptions(partialConvert), layer.Digest, layer.Size(), layer.Annotations, src)
	require.NotNil(t, d)
	t.Cleanup(func() { _ = d.Close() })
	requireEnvFallback(t, d, err, src, states.CodeHostUnsupported)
}

// The probe agrees with this kernel, which has openat2 (CI's does).
func TestHostProbe(t *testing.T) {
	err := hostSupported()
	if errors.Is(err, unix.ENOSYS) {
		t.Fatalf("this kernel lacks openat2; the suite needs it: %v", err)
	}
	assert.NoError(t, err)
}

func TestUsesComposefs(t *testing.T) {
	cases := []struct {
		driver string
		opts   []string
		want   bool
	}{
		{"overlay", []string{"overlay.use_composefs=true"}, true},
		{"overlay", []string{"overlay2.use_composefs=1"}, true},
		{"overlay", []string{"use_composefs=true"}, true},
		{"overlay", []string{"Overlay.Use_Composefs = true"}, true},
		{"overlay", []string{"overlay.use_composefs=true", "overlay.use_composefs=false"}, false},
		{"overlay", []string{"overlay.use_composefs=false"}, false},
		{"overlay", []string{"vfs.use_composefs=true"}, false},
		{"overlay", []string{"overlay.mountopt=nodev"}, false},
		{"overlay", nil, false},
		{"vfs", []string{"use_composefs=true"}, false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, usesComposefs(c.driver, c.opts), "%s %v", c.driver, c.opts)
	}
}
