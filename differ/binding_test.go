package differ

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/formats/zstdchunked"
	"github.com/chunkdiff/chunkdiff/internal/apply"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stageOurs pulls layer into a fresh overlay store and returns the staged
// tree's snapshot, or the error; a failed pull must leave the staging
// directory empty.
func stageOurs(t *testing.T, layer testutil.Layer) (map[string]testutil.FileInfo, digest.Digest, error) {
	t.Helper()
	store := testutil.NewOverlayStore(t, partial)
	d, err := OpenWithStore(t.Context(), store, layer.Digest, layer.Size(), layer.Annotations, testutil.NewSource(layer.Blob))
	if err != nil {
		return nil, "", err
	}
	defer d.Close()
	out, err := store.PrepareStagedLayer(nil, d)
	if out != nil {
		defer func() { _ = store.CleanupStagedLayer(out) }()
	}
	if err != nil {
		require.NotNil(t, out)
		left, rerr := os.ReadDir(out.Target)
		require.NoError(t, rerr)
		assert.Empty(t, left, "a failed pull leaves an empty staging dir")
		assert.Equal(t, states.Failed, d.State())
		return nil, "", err
	}
	return testutil.Snapshot(t, out.Target), out.UncompressedDigest, nil
}

// ordinaryExtraction extracts tarBytes the way an ordinary pull does (pkg/archive
// through the store's ApplyDiff); ok is false when that extraction fails.
func ordinaryExtraction(t *testing.T, tarBytes []byte) (map[string]testutil.FileInfo, bool) {
	t.Helper()
	store := testutil.NewOverlayStore(t, nil)
	l, _, err := store.PutLayer("", "", nil, "", false, nil, bytes.NewReader(tarBytes))
	if err != nil {
		return nil, false
	}
	return testutil.Snapshot(t, testutil.LayerDir(t, store, l.ID)), true
}

// requireBound asserts the rule: the staged tree equals an ordinary
// extraction of the tar the DiffID describes, or the pull fails with a
// typed error (and never succeeds where the ordinary extraction fails).
func requireBound(t *testing.T, tarBytes []byte, layer testutil.Layer, errs ...error) {
	t.Helper()
	got, dg, err := stageOurs(t, layer)
	want, ok := ordinaryExtraction(t, tarBytes)
	if err != nil {
		matched := false
		for _, e := range errs {
			matched = matched || errors.Is(err, e)
		}
		var inc *zstdchunked.InconsistentError
		assert.True(t, matched || errors.As(err, &inc), "want a typed error, got %v", err)
		t.Logf("refused: %v", err)
		return
	}
	require.True(t, ok, "ours staged a layer that an ordinary extraction refuses")
	assert.Equal(t, digest.FromBytes(tarBytes), dg)
	assert.Empty(t, testutil.Diff(want, got), "staged tree != ordinary extraction")
}

// craftedLayer is entries as zstd:chunked, duplicates included: honest
// writers refuse duplicate names (tar-split's packer cleans and checks
// them), so later aliases are written under placeholders of the same
// length and renamed in the TOC and tar-split afterwards.
func craftedLayer(t *testing.T, entries []testutil.Entry) testutil.Layer {
	seen := map[string]bool{}
	var renames [][2]string
	unique := make([]testutil.Entry, len(entries))
	for i, e := range entries {
		h := *e.Header
		if key := path.Clean("/" + h.Name); seen[key] {
			real := h.Name
			j := strings.LastIndexFunc(real, func(r rune) bool { return r != '/' })
			h.Name = real[:j] + string(rune('Z'-len(renames))) + real[j+1:]
			renames = append(renames, [2]string{h.Name, real})
		}
		seen[path.Clean("/"+h.Name)] = true
		unique[i] = testutil.Entry{Header: &h, Data: e.Data}
	}
	l := testutil.ZstdChunked(t, testutil.TarBytes(t, unique))
	if len(renames) == 0 {
		return l
	}
	c := testutil.Craft(t, l)
	for _, r := range renames {
		c.Rename(t, r[0], r[1])
	}
	return c.Build(t)
}

func hostileHdr(typ byte, name, link string, mode int64) *tar.Header {
	return &tar.Header{Typeflag: typ, Name: name, Linkname: link, Mode: mode, ModTime: time.Unix(1700000000, 0)}
}

// The staged tree is bound to the DiffID for names that alias each other,
// hard links followed by a replacement, duplicates and type swaps.
func TestStagedTreeIsTheTarTheDiffIDDescribes(t *testing.T) {
	f := testutil.Entry{Header: hostileHdr(tar.TypeReg, "f", "", 0o644), Data: []byte("the original file f")}
	other := []byte("other bytes, a different size")
	cases := map[string][]testutil.Entry{}
	for _, name := range []string{"h", "/h", "./h"} {
		cases["link then file "+name] = []testutil.Entry{f, {Header: hostileHdr(tar.TypeLink, "h", "f", 0o644)}, {Header: hostileHdr(tar.TypeReg, name, "", 0o4755), Data: other}}
		cases["link then symlink "+name] = []testutil.Entry{f, {Header: hostileHdr(tar.TypeLink, "h", "f", 0o644)}, {Header: hostileHdr(tar.TypeSymlink, name, "/etc/passwd", 0o777)}}
		cases["file then link "+name] = []testutil.Entry{f, {Header: hostileHdr(tar.TypeReg, "h", "", 0o644), Data: other}, {Header: hostileHdr(tar.TypeLink, name, "f", 0o644)}}
	}
	cases["duplicate file"] = []testutil.Entry{f, {Header: hostileHdr(tar.TypeReg, "./f", "", 0o600), Data: other}}
	cases["duplicate symlink"] = []testutil.Entry{{Header: hostileHdr(tar.TypeSymlink, "s", "a", 0o777)}, {Header: hostileHdr(tar.TypeSymlink, "/s", "/etc/passwd", 0o777)}}
	cases["file then dir"] = []testutil.Entry{f, {Header: hostileHdr(tar.TypeDir, "f/", "", 0o755)}}
	cases["dir then file"] = []testutil.Entry{{Header: hostileHdr(tar.TypeDir, "d/", "", 0o755)}, {Header: hostileHdr(tar.TypeReg, "/d", "", 0o644), Data: other}}
	cases["symlink then dir"] = []testutil.Entry{{Header: hostileHdr(tar.TypeSymlink, "d", "/etc", 0o777)}, {Header: hostileHdr(tar.TypeDir, "./d/", "", 0o755)}}
	cases["link before its target"] = []testutil.Entry{{Header: hostileHdr(tar.TypeLink, "h", "f", 0o644)}, f}
	cases["link to a later replaced target"] = []testutil.Entry{f, {Header: hostileHdr(tar.TypeLink, "h", "f", 0o644)}, {Header: hostileHdr(tar.TypeReg, "/f", "", 0o644), Data: other}}
	// An ordinary pull refuses this too (the store's tar-split packer).
	cases["repeated dir"] = []testutil.Entry{{Header: hostileHdr(tar.TypeDir, "d/", "", 0o755)}, {Header: hostileHdr(tar.TypeDir, "./d", "", 0o700)}, f}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			tarBytes := testutil.TarBytes(t, entries)
			requireBound(t, tarBytes, craftedLayer(t, entries), apply.ErrConflict, zstdchunked.ErrDuplicateName)
		})
	}
}

// The tar-split names which staged file fills each payload: a file entry
// naming another entry's payload while the TOC points the file at a frame
// past the tar's end-of-archive would stage bytes the DiffID never saw.
func TestTarSplitPayloadBoundToItsHeader(t *testing.T) {
	same := []byte("identical content of f and g")
	entries := []testutil.Entry{
		{Header: hostileHdr(tar.TypeReg, "f", "", 0o644), Data: same},
		{Header: hostileHdr(tar.TypeReg, "g", "", 0o644), Data: same},
	}
	tarBytes := testutil.TarBytes(t, entries)
	c := testutil.Craft(t, testutil.ZstdChunked(t, tarBytes))
	evil := bytes.Repeat([]byte("X"), len(same))
	off, end := c.AppendFrame(t, evil)
	e := c.Entry(t, "g")
	e["offset"], e["endOffset"], e["digest"] = off, end, digest.FromBytes(evil).String()
	delete(e, "chunkDigest")
	c.FileEntry(t, "g").SetName("f")
	requireBound(t, tarBytes, c.Build(t))
}

// The binding is the differ's, not the format's: eStargz layers (pulled
// without a DiffID, as insecure_allow_unpredictable_image_contents allows)
// get the same rules. (The eStargz writer itself keeps only the last of
// aliased names, so only the order rule can be shown with it.)
func TestEStargzLinkOrderRefused(t *testing.T) {
	f := testutil.Entry{Header: hostileHdr(tar.TypeReg, "f", "", 0o644), Data: []byte("the original file f")}
	entries := []testutil.Entry{{Header: hostileHdr(tar.TypeLink, "h", "f", 0o644)}, f}
	layer := testutil.EStargz(t, testutil.TarBytes(t, entries), 64<<10, nil)
	store := testutil.NewOverlayStore(t, partialInsec)
	d, err := OpenWithStore(t.Context(), store, layer.Digest, layer.Size(), layer.Annotations, testutil.NewSource(layer.Blob))
	require.NoError(t, err)
	defer d.Close()
	var target string
	err = stageAndClean(t, store, d, &target)
	require.ErrorIs(t, err, apply.ErrLinkOrder)
}
