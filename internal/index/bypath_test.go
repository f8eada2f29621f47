package index_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/index"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func candidates(x *index.Index, d digest.Digest, size int64, name string) []index.Location {
	return slices.Collect(x.FileCandidates(d, size, name))
}

// FilesByPath reads nothing of a layer without a TOC at Open (no index file
// is written for it), yet offers its files at their paths.
func TestFilesByPathReadsNothingUpFront(t *testing.T) {
	f := newFixture(t)
	x := open(t, f.store, index.WithFileLayers(index.FilesByPath))
	assert.Empty(t, x.Problems())
	st := x.Stats()
	assert.Equal(t, 3, st.Layers)
	assert.Equal(t, 2, st.Built, "only the TOC layers are built")
	assert.Equal(t, 1, st.ByPath)
	assert.NoFileExists(t, filepath.Join(f.indexDir(), f.plain.ID+".cdx"))
	var byPath []string
	for _, li := range x.Layers() {
		if li.ByPath {
			byPath = append(byPath, li.ID)
		}
	}
	assert.Equal(t, []string{f.plain.ID}, byPath)

	sizes := regularSizes(t, f.plainTar)
	for name, d := range regularFiles(t, f.plainTar) {
		l, ok := inLayer(candidates(x, d, sizes[name], name), f.plain.ID)
		if !assert.True(t, ok, name) {
			continue
		}
		assert.True(t, l.Whole)
		assert.Equal(t, d, digest.FromBytes(readLoc(t, l)), name)
		// Leading "/" or "./" in a TOC name finds the same file.
		_, ok = inLayer(candidates(x, d, sizes[name], "./"+name), f.plain.ID)
		assert.True(t, ok, name)
		// Another size, or another name, is no candidate there.
		_, ok = inLayer(candidates(x, d, sizes[name]+1, name), f.plain.ID)
		assert.False(t, ok, name)
		_, ok = inLayer(candidates(x, d, sizes[name], name+".moved"), f.plain.ID)
		assert.False(t, ok, name)
	}
	// Files of TOC layers are still found by digest under any name.
	for name, d := range regularFiles(t, f.oursTar) {
		_, ok := inLayer(candidates(x, d, regularSizes(t, f.oursTar)[name], "elsewhere"), f.ours.ID)
		assert.True(t, ok, name)
	}
	require.NoError(t, x.Close())
	assert.Empty(t, candidates(x, "", 1, "anything"), "nothing after Close")
}

// An index file built by FilesHashed is used by FilesByPath as it is.
func TestFilesByPathUsesHashedFile(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, open(t, f.store).Close())
	x := open(t, f.store, index.WithFileLayers(index.FilesByPath))
	st := x.Stats()
	assert.Equal(t, 3, st.Loaded)
	assert.Zero(t, st.ByPath)
	checkFiles(t, x, f.plain.ID, f.plainTar)
}

// Lookups by path stay beneath the layer's directory: a symlinked directory
// or file in the (untrusted) layer tree gives no candidate.
func TestFilesByPathFollowsNoSymlinks(t *testing.T) {
	store := testutil.NewOverlayStore(t, nil)
	tarBytes := testutil.TarBytes(t, testutil.RichTree(7))
	l := testutil.PutLayer(t, store, testutil.Gzip(t, tarBytes).Blob, "")
	x := open(t, store, index.WithFileLayers(index.FilesByPath))
	require.Equal(t, 1, x.Stats().ByPath)
	dir := x.Layers()[0].Dir

	outside := t.TempDir()
	secret := []byte("outside the layer")
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), secret, 0o600))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "escape")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "link")))
	d := digest.FromBytes(secret)
	n := int64(len(secret))
	for _, name := range []string{"escape/secret", "link", "../../../../" + outside + "/secret"} {
		assert.Empty(t, candidates(x, d, n, name), name)
	}
	// The check is by path, not by content: a regular file of that size is
	// offered (and the caller's verification rejects it).
	require.NoError(t, os.WriteFile(filepath.Join(dir, "plain"), make([]byte, n), 0o600))
	got := candidates(x, d, n, "plain")
	require.Len(t, got, 1)
	assert.Equal(t, l.ID, got[0].Layer)
}

// regularSizes returns the size of every regular file in a tar.
func regularSizes(t *testing.T, tarBytes []byte) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	tr := tar.NewReader(bytes.NewReader(tarBytes))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		if h.Typeflag == tar.TypeReg {
			out[h.Name] = h.Size
		}
	}
}

// A file under a directory the layer lacks is no candidate, however deep,
// and asking for one does not hide the files of directories it has (the
// missing parent is remembered, not the answer for the whole layer).
func TestFilesByPathMissingSubtree(t *testing.T) {
	f := newFixture(t)
	x := open(t, f.store, index.WithFileLayers(index.FilesByPath))
	defer x.Close()
	sizes := regularSizes(t, f.plainTar)
	for name, d := range regularFiles(t, f.plainTar) {
		for _, missing := range []string{"nothere/" + name, "nothere/deeper/still/" + name, name + "/under-a-file"} {
			_, ok := inLayer(candidates(x, d, sizes[name], missing), f.plain.ID)
			assert.False(t, ok, missing)
		}
		_, ok := inLayer(candidates(x, d, sizes[name], name), f.plain.ID)
		assert.True(t, ok, name)
	}
}
