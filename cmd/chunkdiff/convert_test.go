package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// convert turns a gzip layer into a zstd:chunked blob that apply pulls
// partially, giving back the original tar's DiffID and files.
func TestConvertThenApply(t *testing.T) {
	tarBytes := testutil.TarBytes(t, testutil.RichTree(6))
	dir := t.TempDir()
	in := filepath.Join(dir, "layer.tar.gz")
	require.NoError(t, os.WriteFile(in, testutil.Gzip(t, tarBytes).Blob, 0o644))
	outBlob := filepath.Join(dir, "layer.tar.zst")

	out, err := run(t, "convert", in, outBlob, "--level", "3")
	require.NoError(t, err, out)
	assert.Contains(t, out, "(gzip)")
	assert.Contains(t, out, digest.FromBytes(tarBytes).String())
	_, err = os.Stat(filepath.Join(dir, "layer.annotations.json"))
	require.NoError(t, err)

	dest := filepath.Join(dir, "tree")
	out, err = run(t, "apply", outBlob, "--dest", dest)
	require.NoError(t, err, out)
	assert.Contains(t, out, digest.FromBytes(tarBytes).String())
	assert.Empty(t, testutil.Diff(testutil.TarSnapshot(t, tarBytes), testutil.Snapshot(t, dest)))
}

func TestConvertRejectsGarbage(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "junk")
	require.NoError(t, os.WriteFile(in, []byte{0x1f, 0x8b, 0, 0, 1, 2, 3}, 0o644))
	_, err := run(t, "convert", in, filepath.Join(dir, "out.zst"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gzip")
	left, _ := os.ReadDir(dir)
	assert.Len(t, left, 1, "no partial output")
}
