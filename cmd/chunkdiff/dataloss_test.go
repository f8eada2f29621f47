package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// apply never writes into a directory that holds anything: it could not
// tell its own files from the user's when cleaning up after a failure.
func TestApplyRefusesNonEmptyDest(t *testing.T) {
	blob, _ := bigLayer(t)
	dest := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dest, "mine.txt"), []byte("mine"), 0o644))
	before := listing(t, dest)

	r := runBin(t, nil, "apply", blob, "--dest", dest)
	assert.Equal(t, exitUsage, r.code, r.stderr)
	assert.Contains(t, r.stderr, "--dest "+dest+" is not empty (it holds mine.txt)")
	assert.Empty(t, r.stdout)
	assert.Equal(t, before, listing(t, dest), "the directory is as it was")
}

// A failed apply (corrupt contents) leaves the destination as it was: a
// new directory is removed again, an empty one stays empty, and the error
// is printed once.
func TestFailedApplyLeavesDestAsItWas(t *testing.T) {
	_, l := bigLayer(t)
	blob := writeLayer(t, corruptContent(t, l), "corrupt")

	parent := t.TempDir()
	fresh := filepath.Join(parent, "new", "tree")
	r := runBin(t, nil, "apply", blob, "--dest", fresh)
	assert.Equal(t, exitFailed, r.code, r.stderr)
	assert.Contains(t, r.stderr, blob)
	assert.Equal(t, 1, strings.Count(r.stderr+r.stdout, "chunkdiff:"), "one error line: %s", r.stderr)
	assert.Empty(t, r.stdout)
	assert.Empty(t, listing(t, parent)[`new`], "the directories apply created are removed")
	_, err := os.Stat(filepath.Join(parent, "new"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	empty := t.TempDir()
	r = runBin(t, nil, "apply", blob, "--dest", empty)
	assert.Equal(t, exitFailed, r.code, r.stderr)
	assert.Equal(t, map[string]string{".": listing(t, empty)["."]}, listing(t, empty), "an empty dest stays empty")
}
