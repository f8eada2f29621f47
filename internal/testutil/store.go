package testutil

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	storage "go.podman.io/storage"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/chunked"
	"go.podman.io/storage/pkg/stringid"
	"go.podman.io/storage/types"
)

// NewOverlayStore returns a real containers/storage store using the overlay
// driver in a temporary root, shut down and removed when the test ends.
// It calls RequireOverlay first.
func NewOverlayStore(tb testing.TB, pullOptions map[string]string) storage.Store {
	tb.Helper()
	RequireOverlay(tb)
	return newStore(tb, "overlay", pullOptions)
}

// NewVFSStore is NewOverlayStore with the vfs driver: no mounts, so it only
// needs root for chown and device nodes.
func NewVFSStore(tb testing.TB, pullOptions map[string]string) storage.Store {
	tb.Helper()
	return newStore(tb, "vfs", pullOptions)
}

func newStore(tb testing.TB, driver string, pullOptions map[string]string) storage.Store {
	// Not tb.TempDir(): its name comes from the test name, and a comma in a
	// subtest name ends up in overlay's mount options, which commas separate.
	root, err := os.MkdirTemp("", "chunkdiff-store-")
	if err != nil {
		tb.Fatalf("store root: %v", err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(root) })
	store, err := storage.GetStore(types.StoreOptions{
		RunRoot:         filepath.Join(root, "run"),
		GraphRoot:       filepath.Join(root, "graph"),
		GraphDriverName: driver,
		PullOptions:     pullOptions,
	})
	if err != nil {
		tb.Fatalf("new %s store: %v", driver, err)
	}
	// Registered after TempDir, so it runs before the directory is removed.
	tb.Cleanup(func() {
		if _, err := store.Shutdown(true); err != nil {
			tb.Errorf("store shutdown: %v", err)
		}
	})
	return store
}

// UpstreamPull pulls layer into store the way c/image does with upstream's
// differ: chunked.NewDiffer, store.PrepareStagedLayer, differ.Close. src
// nil means NewSource(layer.Blob). On success the caller owns the output and
// must ApplyStagedLayer (see ApplyStaged) or CleanupStagedLayer it.
func UpstreamPull(tb testing.TB, store storage.Store, layer Layer, src chunked.ImageSourceSeekable) (*graphdriver.DriverWithDifferOutput, error) {
	tb.Helper()
	if src == nil {
		src = NewSource(layer.Blob)
	}
	differ, err := chunked.NewDiffer(context.Background(), store, layer.Digest, layer.Size(), layer.Annotations, src)
	if err != nil {
		return nil, fmt.Errorf("upstream NewDiffer: %w", err)
	}
	defer differ.Close()
	out, err := store.PrepareStagedLayer(nil, differ)
	if err != nil {
		return out, fmt.Errorf("upstream PrepareStagedLayer: %w", err)
	}
	return out, nil
}

// ApplyStaged commits a staged pull as a new layer on top of parent ("" for
// none) and returns it.
func ApplyStaged(tb testing.TB, store storage.Store, out *graphdriver.DriverWithDifferOutput, parent string) *storage.Layer {
	tb.Helper()
	l, err := store.ApplyStagedLayer(storage.ApplyStagedLayerOptions{
		ID:          stringid.GenerateRandomID(),
		ParentLayer: parent,
		DiffOutput:  out,
		DiffOptions: &graphdriver.ApplyDiffWithDifferOpts{},
	})
	if err != nil {
		tb.Fatalf("ApplyStagedLayer: %v", err)
	}
	return l
}

// PutLayer does an ordinary (non-partial) pull of a compressed or plain tar
// blob on top of parent ("" for none).
func PutLayer(tb testing.TB, store storage.Store, blob []byte, parent string) *storage.Layer {
	tb.Helper()
	l, _, err := store.PutLayer("", parent, nil, "", false, nil, bytes.NewReader(blob))
	if err != nil {
		tb.Fatalf("PutLayer: %v", err)
	}
	return l
}

// LayerTar returns the uncompressed tar store.Diff produces for layer id
// (against its parent). With a stored tar-split this is the original tar.
func LayerTar(tb testing.TB, store storage.Store, id string) []byte {
	tb.Helper()
	c := archive.Uncompressed
	rc, err := store.Diff("", id, &storage.DiffOptions{Compression: &c})
	if err != nil {
		tb.Fatalf("store.Diff %s: %v", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatalf("store.Diff %s: read: %v", id, err)
	}
	return b
}

// LayerDir returns the on-disk diff directory of layer id, for Snapshot.
func LayerDir(tb testing.TB, store storage.Store, id string) string {
	tb.Helper()
	gd, err := store.GraphDriver()
	if err != nil {
		tb.Fatalf("graph driver: %v", err)
	}
	md, err := gd.Metadata(id)
	if err != nil {
		tb.Fatalf("layer %s metadata: %v", id, err)
	}
	if d := md["UpperDir"]; d != "" {
		return d
	}
	// vfs has no metadata for its directory; Mount returns it without mounting.
	dir, err := gd.Get(id, graphdriver.MountOpts{})
	if err != nil {
		tb.Fatalf("layer %s dir: %v", id, err)
	}
	tb.Cleanup(func() { _ = gd.Put(id) })
	return dir
}
