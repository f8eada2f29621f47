package differ

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeOSTreeRepo lays out the regular files of a tar as an OSTree repository
// does for reuse: objects/<2 hex>/<rest>.payload-link, a symlink to the
// object holding the content. corrupt names files whose object gets other
// bytes of the same size.
func fakeOSTreeRepo(t *testing.T, tarBytes []byte, corrupt map[string]bool) string {
	t.Helper()
	repo := t.TempDir()
	tr := tar.NewReader(bytes.NewReader(tarBytes))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return repo
		}
		require.NoError(t, err)
		if h.Typeflag != tar.TypeReg || h.Size == 0 {
			continue
		}
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		hex := digest.FromBytes(data).Encoded()
		dir := filepath.Join(repo, "objects", hex[:2])
		require.NoError(t, os.MkdirAll(dir, 0o755))
		obj := filepath.Join(dir, hex[2:]+".file")
		if corrupt[h.Name] {
			data = bytes.Repeat([]byte{'x'}, len(data))
		}
		require.NoError(t, os.WriteFile(obj, data, 0o644))
		link := filepath.Join(dir, hex[2:]+".payload-link")
		if _, err := os.Lstat(link); err == nil {
			continue // same content twice
		}
		require.NoError(t, os.Symlink(filepath.Base(obj), link))
	}
}

// ostree_repos: files found in an OSTree repository are reused (verified),
// not fetched; a repository object whose content is not what its name says
// is rejected and the file fetched instead.
func TestOSTreeReposAreReused(t *testing.T) {
	p := getPair(t)
	corrupt := map[string]bool{}
	for _, e := range p.updEntries {
		if e.Header.Typeflag == tar.TypeReg && len(e.Data) > 0 {
			corrupt[e.Header.Name] = true
			break
		}
	}
	require.Len(t, corrupt, 1)
	repo := fakeOSTreeRepo(t, p.updTar, corrupt)

	store := testutil.NewOverlayStore(t, withOpts(partial, "ostree_repos", "/nonexistent:"+repo))
	upd, out, dump := pullOurs(t, store, p.upd, "")
	assert.Equal(t, digest.FromBytes(p.updTar), out.UncompressedDigest)
	a := dump.Apply
	require.NotNil(t, a)
	assert.Positive(t, a.Reuse.FilesCopied, "files come from the repository")
	assert.Positive(t, a.Reuse.Rejected, "the corrupt object was rejected")
	assert.Less(t, a.BytesFetched, p.upd.Size()/4)

	plain := testutil.NewOverlayStore(t, nil)
	pu := testutil.PutLayer(t, plain, p.updTar, "")
	assert.Empty(t, testutil.Diff(
		testutil.Snapshot(t, testutil.LayerDir(t, plain, pu.ID)),
		testutil.Snapshot(t, testutil.LayerDir(t, store, upd.ID))))
}
