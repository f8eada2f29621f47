package differ

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/internal/apply"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.podman.io/storage/pkg/chunked"
)

func entry(typ byte, name, link string, data []byte) testutil.Entry {
	h := &tar.Header{Typeflag: typ, Name: name, Linkname: link, Mode: 0o644, ModTime: time.Unix(1700000000, 0), Size: int64(len(data))}
	if typ == tar.TypeDir {
		h.Mode = 0o755
	}
	return testutil.Entry{Header: h, Data: data}
}

// lieAboutFirstDigest changes the digest of the first regular file with
// content, keeping the TOC consistent with the tar-split (digests are not
// part of that check): only fetching can catch it.
func lieAboutFirstDigest(t *testing.T, doc map[string]json.RawMessage) {
	var entries []map[string]any
	require.NoError(t, json.Unmarshal(doc["entries"], &entries))
	for _, e := range entries {
		if e["type"] == "reg" && e["digest"] != nil {
			e["digest"] = "sha256:" + strings.Repeat("ab", 32)
			break
		}
	}
	raw, err := json.Marshal(entries)
	require.NoError(t, err)
	doc["entries"] = raw
}

// Hostile layers fail with an error naming the problem, write nothing
// outside the staging directory, and leave no staging directory once the
// caller cleans up (as c/image does with CleanupStagedLayer).
func TestHostileLayers(t *testing.T) {
	secret := []byte("the payload of a hostile layer")
	tests := []struct {
		name    string
		entries []testutil.Entry
		lie     bool
		wantErr string
		typed   error
	}{
		{name: "dot-dot entry", entries: []testutil.Entry{entry(tar.TypeReg, "../x", "", secret)}, wantErr: "../x", typed: apply.ErrInsecurePath},
		{name: "entry beneath an absolute symlink", entries: []testutil.Entry{
			entry(tar.TypeSymlink, "escape", "/", nil), entry(tar.TypeReg, "escape/x", "", secret)}, wantErr: "escape", typed: apply.ErrInsecurePath},
		{name: "entry beneath a relative symlink", entries: []testutil.Entry{
			entry(tar.TypeSymlink, "up", "../..", nil), entry(tar.TypeReg, "up/x", "", secret)}, wantErr: "up", typed: apply.ErrInsecurePath},
		{name: "hard link to outside", entries: []testutil.Entry{
			entry(tar.TypeReg, "a", "", secret), entry(tar.TypeLink, "b", "../../../../etc/passwd", nil)}, wantErr: "etc/passwd", typed: apply.ErrInsecurePath},
		{name: "chunk digest lies", entries: []testutil.Entry{entry(tar.TypeReg, "file", "", secret)}, lie: true, wantErr: "digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			layer := testutil.ZstdChunked(t, testutil.TarBytes(t, tt.entries))
			if tt.lie {
				layer = rewriteTOC(t, layer, true, func(doc map[string]json.RawMessage) { lieAboutFirstDigest(t, doc) })
			}
			store := testutil.NewOverlayStore(t, partial)
			graph := store.GraphRoot()
			// A sentinel directory beside the store, and everything in the
			// store around the staging area: nothing may change there.
			sentinel := filepath.Join(filepath.Dir(graph), "sentinel")
			require.NoError(t, os.MkdirAll(filepath.Join(sentinel, "etc"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(sentinel, "etc", "passwd"), []byte("root:x:0:0"), 0o644))
			sentinelBefore := testutil.Snapshot(t, sentinel)
			before := testutil.Snapshot(t, graph)
			// Bookkeeping the store creates on its first staged layer.
			bookkeeping := []testutil.DiffOption{testutil.IgnoreDirMtimes(),
				testutil.IgnorePath("overlay-layers"), testutil.IgnorePath("overlay-layers/layers.lock"), testutil.IgnorePath("overlay/staging"),
				testutil.IgnorePath("chunkdiff-index")}

			d, err := OpenWithStore(t.Context(), store, layer.Digest, layer.Size(), layer.Annotations, testutil.NewSource(layer.Blob))
			require.NoError(t, err)
			defer d.Close()
			out, err := store.PrepareStagedLayer(nil, d)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			if tt.typed != nil {
				assert.True(t, errors.Is(err, tt.typed), "want %v, got %v", tt.typed, err)
			}
			var fb chunked.ErrFallbackToOrdinaryLayerDownload
			assert.False(t, errors.As(err, &fb), "content errors are not fallbacks")
			assert.Equal(t, states.Failed, d.State())
			// Nothing was written outside the staging dir, and nothing
			// of the layer is left in it.
			require.NotNil(t, out)
			left, rerr := os.ReadDir(out.Target)
			require.NoError(t, rerr)
			assert.Empty(t, left, "a failed apply leaves an empty staging dir")
			require.NoError(t, store.CleanupStagedLayer(out))
			_, serr := os.Stat(filepath.Dir(out.Target))
			assert.True(t, os.IsNotExist(serr), "no staging dir after CleanupStagedLayer")
			assert.Empty(t, testutil.Diff(sentinelBefore, testutil.Snapshot(t, sentinel)), "sentinel beside the store untouched")
			after := testutil.Snapshot(t, graph)
			assert.Empty(t, testutil.Diff(before, after, bookkeeping...), "the store root is as before")
			for _, p := range []string{"/x", "/etc/x", filepath.Join(filepath.Dir(graph), "x")} {
				b, _ := os.ReadFile(p)
				assert.NotEqual(t, secret, b, p)
			}
		})
	}
}
