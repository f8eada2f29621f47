package differ

import (
	"archive/tar"
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/loopfs"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	storage "go.podman.io/storage"
	"go.podman.io/storage/types"
)

// ownershipLayers are layer 1 with bin/tool (0755 root) and, per attribute
// change, a layer 2 that has the same bytes and attributes at bin/tool (so
// reuse finds layer 1's file) and then a hard link to it whose entry asks
// for other attributes.
func ownershipLayers(t *testing.T) (base testutil.Layer, updates map[string][]testutil.Entry) {
	data := bytes.Repeat([]byte("a tool's machine code "), 3000)
	mtime := time.Unix(1700000000, 0)
	tool := func() *tar.Header {
		return &tar.Header{Typeflag: tar.TypeReg, Name: "bin/tool", Mode: 0o755, ModTime: mtime, Size: int64(len(data)),
			PAXRecords: map[string]string{"SCHILY.xattr.user.origin": "layer1"}}
	}
	dir := &tar.Header{Typeflag: tar.TypeDir, Name: "bin/", Mode: 0o755, ModTime: mtime}
	base = testutil.ZstdChunked(t, testutil.TarBytes(t, []testutil.Entry{{Header: dir}, {Header: tool(), Data: data}}))
	link := func(edit func(h *tar.Header)) []testutil.Entry {
		h := tool()
		h.Typeflag, h.Name, h.Linkname, h.Size = tar.TypeLink, "bin/alias", "bin/tool", 0
		edit(h)
		return []testutil.Entry{{Header: dir}, {Header: tool(), Data: data}, {Header: h}}
	}
	return base, map[string][]testutil.Entry{
		"setuid and owner": link(func(h *tar.Header) { h.Mode, h.Uid, h.Gid = 0o4777, 1234, 1234 }),
		"new xattr":        link(func(h *tar.Header) { h.PAXRecords["SCHILY.xattr.user.added"] = "layer2" }),
		"new mtime":        link(func(h *tar.Header) { h.ModTime = mtime.Add(time.Hour) }),
	}
}

// A layer never changes another layer's inode, whatever reuse did: with
// use_hard_links (bin/tool linked to layer 1's inode), without (copied),
// and on XFS (reflinked). Layer 2 itself equals an ordinary pull (pkg/archive).
func TestReuseNeverChangesAnotherLayersInode(t *testing.T) {
	base, updates := ownershipLayers(t)
	modes := []struct {
		name  string
		store func(t *testing.T) storage.Store
	}{
		{"hard link", func(t *testing.T) storage.Store {
			return testutil.NewOverlayStore(t, withOpts(partial, "use_hard_links", "true"))
		}},
		{"copy", func(t *testing.T) storage.Store { return testutil.NewOverlayStore(t, partial) }},
		{"reflink", func(t *testing.T) storage.Store {
			mnt := loopfs.Mount(t, 300, "mkfs.xfs", "-q", "-m", "reflink=1")
			s, err := storage.GetStore(types.StoreOptions{RunRoot: filepath.Join(mnt, "run"), GraphRoot: filepath.Join(mnt, "graph"),
				GraphDriverName: "overlay", PullOptions: withOpts(partial, "use_hard_links", "true")})
			require.NoError(t, err)
			t.Cleanup(func() { _, _ = s.Shutdown(true) })
			return s
		}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			store := m.store(t)
			l1, _, _ := pullOurs(t, store, base, "")
			l1Dir := testutil.LayerDir(t, store, l1.ID)
			before := testutil.Snapshot(t, l1Dir)
			for name, entries := range updates {
				tarBytes := testutil.TarBytes(t, entries)
				l2, _, dump := pullOurs(t, store, testutil.ZstdChunked(t, tarBytes), l1.ID)
				r := dump.Apply.Reuse
				assert.Equal(t, 1, r.FilesLinked+r.FilesCopied, "%s: bin/tool is reused", name)
				if m.name == "hard link" {
					assert.Equal(t, 1, r.FilesLinked, "%s: bin/tool is linked to layer 1's inode", name)
				}
				assert.Empty(t, testutil.Diff(before, testutil.Snapshot(t, l1Dir)), "%s: layer 1 unchanged", name)
				plain := testutil.NewOverlayStore(t, nil)
				want := testutil.LayerDir(t, plain, testutil.PutLayer(t, plain, tarBytes, "").ID)
				assert.Empty(t, testutil.Diff(testutil.Snapshot(t, want), testutil.Snapshot(t, testutil.LayerDir(t, store, l2.ID))),
					"%s: layer 2 equals an ordinary pull", name)
			}
		})
	}
}
