package differ

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/loopfs"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
)

func applyTo(t *testing.T, dest string, differOpts *graphdriver.DifferOptions) (graphdriver.DriverWithDifferOutput, error) {
	t.Helper()
	layer := zstdLayer(t)
	store := testutil.NewOverlayStore(t, partial)
	d, err := OpenWithStore(t.Context(), store, layer.Digest, layer.Size(), layer.Annotations, testutil.NewSource(layer.Blob))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	out, err := d.ApplyDiff(dest, &archive.TarOptions{}, differOpts)
	if out.TarSplit != nil {
		t.Cleanup(func() { _ = out.TarSplit.Close() })
	}
	return out, err
}

// The Flat format stores each distinct regular file once, at xx/rest-of-hex
// of its sha256, and nothing else; the DiffID is still computed through the
// name map.
func TestFlatFormat(t *testing.T) {
	dest := t.TempDir()
	out, err := applyTo(t, dest, &graphdriver.DifferOptions{Format: graphdriver.DifferOutputFormatFlat})
	require.NoError(t, err)
	assert.Equal(t, digest.FromBytes(richTarLocked(t)), out.UncompressedDigest)
	assert.Nil(t, out.RootDirMode)

	want := map[string]bool{}
	for _, fi := range testutil.TarSnapshot(t, richTarLocked(t)) {
		if fi.Type == "reg" {
			want[fi.SHA256] = true
		}
	}
	got := map[string]bool{}
	for name, fi := range testutil.Snapshot(t, dest) {
		if fi.Type == "dir" {
			assert.Len(t, name, 2, "only xx/ directories")
			continue
		}
		require.Equal(t, "reg", fi.Type, name)
		assert.Equal(t, filepath.Base(filepath.Dir(name))+filepath.Base(name), fi.SHA256, "named by content")
		got[fi.SHA256] = true
	}
	assert.Equal(t, want, got, "one file per distinct content")
}

// fs-verity: IfAvailable on a filesystem without it records nothing and
// succeeds; Required fails.
func TestFsVerityUnavailable(t *testing.T) {
	dest := t.TempDir()
	if verityWorks(t, dest) {
		t.Skip("the temp dir's filesystem supports fs-verity")
	}
	out, err := applyTo(t, dest, &graphdriver.DifferOptions{UseFsVerity: graphdriver.DifferFsVerityIfAvailable})
	require.NoError(t, err)
	assert.Empty(t, out.Artifacts[artifactVerity])

	_, err = applyTo(t, t.TempDir(), &graphdriver.DifferOptions{UseFsVerity: graphdriver.DifferFsVerityRequired})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "verity")
}

// On an ext4 with the verity feature every regular file with content gets a
// measured digest, keyed by "/"+name as composefs looks it up.
func TestFsVerityRecorded(t *testing.T) {
	if _, err := os.Stat("/sys/fs/ext4/features/verity"); err != nil {
		// A kernel property, not a missing package: skip even in CI.
		t.Skip("the kernel has no ext4 fs-verity support (CONFIG_FS_VERITY)")
	}
	mnt := loopfs.Mount(t, 128, "mkfs.ext4", "-q", "-b", "4096", "-O", "verity")
	dest := filepath.Join(mnt, "layer")
	require.NoError(t, os.Mkdir(dest, 0o755))
	out, err := applyTo(t, dest, &graphdriver.DifferOptions{UseFsVerity: graphdriver.DifferFsVerityRequired})
	require.NoError(t, err)
	digests := out.Artifacts[artifactVerity].(map[string]string)
	var files int
	for _, it := range zstdItems(t) {
		if it.Type == toc.TypeReg && it.Size > 0 {
			files++
			assert.Len(t, digests[filepath.Clean("/"+it.Name)], 64, it.Name)
		}
	}
	assert.Equal(t, files, len(digests))
}

func verityWorks(t *testing.T, dir string) bool {
	f, err := os.CreateTemp(dir, "probe")
	require.NoError(t, err)
	name := f.Name()
	_, _ = f.WriteString("x")
	_ = f.Close()
	defer os.Remove(name)
	r, err := os.Open(name)
	require.NoError(t, err)
	defer r.Close()
	return enableVerityProbe(r) == nil
}
