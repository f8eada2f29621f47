package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Ctrl-C in the middle of apply --dest: the directory tree written so far
// is removed, a directory apply created too.
func TestInterruptApplyDest(t *testing.T) {
	blob, _ := bigLayer(t)
	parent := t.TempDir()
	dest := filepath.Join(parent, "tree")
	// Request 1 loads the metadata; the stall is the first content request,
	// when directories and empty files are already written.
	r := interruptBin(t, "2", syscall.SIGINT, "apply", blob, "--dest", dest)
	assert.Equal(t, 128+int(syscall.SIGINT), r.code, r.stderr)
	assert.Contains(t, r.stderr, "interrupted by SIGINT; removed what it had written")
	assert.Empty(t, r.stdout)
	assert.Equal(t, map[string]string{".": listing(t, parent)["."]}, listing(t, parent), "nothing left under the parent")

	empty := t.TempDir()
	before := listing(t, empty)
	r = interruptBin(t, "2", syscall.SIGTERM, "apply", blob, "--dest", empty)
	assert.Equal(t, 128+int(syscall.SIGTERM), r.code, r.stderr)
	assert.Contains(t, r.stderr, "interrupted by SIGTERM")
	assert.Equal(t, before, listing(t, empty), "an empty --dest is empty again")
}

// Ctrl-C in the middle of apply --store: no staging directory, no layer,
// the store as it was.
func TestInterruptApplyStore(t *testing.T) {
	testutil.RequireOverlay(t)
	blob, _ := bigLayer(t)
	root, err := os.MkdirTemp("", "chunkdiff-cli-store-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	base := writeLayer(t, testutil.ZstdChunked(t, testutil.TarBytes(t, testutil.RichTree(2))), "base")
	r := runBin(t, nil, "apply", base, "--store", root)
	require.Equal(t, 0, r.code, r.stderr)
	before := storeListing(t, root)

	r = interruptBin(t, "2", syscall.SIGINT, "apply", blob, "--store", root)
	assert.Equal(t, 128+int(syscall.SIGINT), r.code, r.stderr)
	assert.Contains(t, r.stderr, "interrupted by SIGINT")
	staging, err := os.ReadDir(filepath.Join(root, "graph", "overlay", "staging"))
	if !os.IsNotExist(err) {
		require.NoError(t, err)
		assert.Empty(t, staging, "no staging directory left")
	}
	assert.Equal(t, before, storeListing(t, root), "the store is as it was")

	// A store apply created is removed again when it is interrupted.
	fresh := filepath.Join(t.TempDir(), "store")
	r = interruptBin(t, "2", syscall.SIGINT, "apply", blob, "--store", fresh)
	assert.Equal(t, 128+int(syscall.SIGINT), r.code, r.stderr)
	_, err = os.Stat(fresh)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// storeListing is listing without lock files, whose contents change on
// every write lock, and without the content index of the layers already
// there (a cache the differ builds when it looks for content to reuse, and
// writes whole, before fetching).
func storeListing(t *testing.T, root string) map[string]string {
	out := listing(t, root)
	for p := range out {
		if strings.HasSuffix(p, "lock") || strings.HasPrefix(p, "graph/chunkdiff-index/") {
			delete(out, p)
		}
	}
	return out
}

// Ctrl-C in the middle of convert leaves no temporary file and no output.
func TestInterruptConvert(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "layer.tar")
	require.NoError(t, os.WriteFile(in, testutil.TarBytes(t, testutil.RichTree(8)), 0o644))
	outDir := t.TempDir()
	// Read 3 of the input: the temporary output exists and holds data.
	r := interruptBin(t, "3", syscall.SIGINT, "convert", in, filepath.Join(outDir, "layer.tar.zst"))
	assert.Equal(t, 128+int(syscall.SIGINT), r.code, r.stderr)
	assert.Contains(t, r.stderr, "interrupted by SIGINT")
	left, err := os.ReadDir(outDir)
	require.NoError(t, err)
	assert.Empty(t, left, "no .chunkdiff-convert-* temporary, no partial output")
}
