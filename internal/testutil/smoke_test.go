package testutil

import (
	"archive/tar"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var partialPulls = map[string]string{"enable_partial_images": "true"}

// TestSmokeUpstreamPull proves the harness against upstream: a RichTree
// pulled with upstream's differ must come back from store.Diff unchanged,
// and the staged directory must hold the same tree.
func TestSmokeUpstreamPull(t *testing.T) {
	store := NewOverlayStore(t, partialPulls)
	tarBytes := TarBytes(t, RichTree(1))
	layer := ZstdChunked(t, tarBytes)
	src := NewSource(layer.Blob)

	out, err := UpstreamPull(t, store, layer, src)
	require.NoError(t, err)
	require.Equal(t, layer.TOCDigest, out.TOCDigest)
	require.Equal(t, layer.DiffID, out.UncompressedDigest)
	require.EqualValues(t, len(tarBytes), out.Size)
	t.Logf("upstream pull: %d GetBlobAt calls, %d bytes of a %d-byte blob", src.Calls(), src.BytesServed(), len(layer.Blob))

	l := ApplyStaged(t, store, out, "")
	require.Equal(t, layer.TOCDigest, l.TOCDigest)
	want := TarSnapshot(t, tarBytes)

	// With the tar-split stored, store.Diff must reproduce the input tar.
	diffTar := LayerTar(t, store, l.ID)
	require.Empty(t, Diff(want, TarSnapshot(t, diffTar)))
	if string(diffTar) != string(tarBytes) {
		t.Log("upstream quirk: store.Diff is not byte-identical to the input tar")
	}

	// The layer directory itself: only the known upstream quirks may differ.
	onDisk := Snapshot(t, LayerDir(t, store, l.ID))
	quirks, rest := splitQuirks(want, Diff(want, onDisk, IgnoreXattrPrefix("trusted.overlay.")))
	require.Empty(t, rest, "layer directory differs from the input beyond known upstream quirks")
	if len(quirks) > 0 {
		t.Logf("upstream v1.65.1 quirks in the partially pulled layer directory (BEHAVIOUR.md \"upstream-quirks\"): %d differences: "+
			"device nodes and fifos are not created, symlink mtimes are not set, mtimes of directories that get children are lost; first ones:\n%s",
			len(quirks), strings.Join(quirks[:min(len(quirks), 12)], "\n"))
	}
}

// splitQuirks separates differences upstream's differ is known to produce:
// device nodes and fifos are not created, symlinks get no mtime, and
// directory mtimes may be disturbed.
func splitQuirks(want map[string]FileInfo, diffs []string) (quirks, rest []string) {
	for _, d := range diffs {
		p, what, _ := strings.Cut(d, ": ")
		typ := want[p].Type
		switch {
		case strings.HasPrefix(what, "only in first") && (typ == "char" || typ == "block" || typ == "fifo"),
			strings.HasPrefix(what, "mtime") && (typ == "symlink" || typ == "dir"):
			quirks = append(quirks, d)
		default:
			rest = append(rest, d)
		}
	}
	return quirks, rest
}

// An ordinary pull of the same tree gives the same directory, so the two
// paths can be compared directly by later tests.
func TestSmokePutLayer(t *testing.T) {
	store := NewOverlayStore(t, nil)
	tarBytes := TarBytes(t, RichTree(2))
	l := PutLayer(t, store, Gzip(t, tarBytes).Blob, "")
	want := TarSnapshot(t, tarBytes)
	require.Empty(t, Diff(want, TarSnapshot(t, LayerTar(t, store, l.ID))))
	onDisk := Snapshot(t, LayerDir(t, store, l.ID))
	if d := Diff(want, onDisk, IgnoreXattrPrefix("trusted.overlay.")); len(d) > 0 {
		t.Logf("ordinary pull: layer directory differs from the tar:\n%s", strings.Join(d, "\n"))
	}
}

// An upper layer with whiteouts and an opaque directory pulls on top of its
// parent, and store.Diff gives the whiteouts back.
func TestSmokeUpstreamPullWhiteouts(t *testing.T) {
	store := NewOverlayStore(t, partialPulls)
	parent := RichTree(3)
	out, err := UpstreamPull(t, store, ZstdChunked(t, TarBytes(t, parent)), nil)
	require.NoError(t, err)
	base := ApplyStaged(t, store, out, "")

	upperTar := TarBytes(t, Whiteouts(parent, []string{"etc/tiny", "usr/bin/sh"}, []string{"home/user"}, []Entry{
		{Header: &tar.Header{Typeflag: tar.TypeReg, Name: "home/user/new", Mode: 0o644, ModTime: treeEpoch}, Data: []byte("new\n")},
	}))
	out, err = UpstreamPull(t, store, ZstdChunked(t, upperTar), nil)
	require.NoError(t, err)
	upper := ApplyStaged(t, store, out, base.ID)
	require.Empty(t, Diff(TarSnapshot(t, upperTar), TarSnapshot(t, LayerTar(t, store, upper.ID))))
}
