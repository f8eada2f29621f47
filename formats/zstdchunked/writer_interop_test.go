package zstdchunked

import (
	"bytes"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// TestWriterLoadsLikeUpstream: our Load reads our blob, with the same
// metadata as upstream's blob of the same tar.
func TestWriterLoadsLikeUpstream(t *testing.T) {
	l := rich(t)
	ours, res := ourLayer(t, l.Tar)

	want, _, err := load(t, l.Blob, l.Ann, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := load(t, ours.Blob, res.Annotations, Options{})
	if err != nil {
		t.Fatalf("Load of our blob: %v", err)
	}
	if got.Counts != want.Counts {
		t.Errorf("counts %+v, upstream's blob %+v", got.Counts, want.Counts)
	}
	if got.UncompressedTarSize != int64(len(l.Tar)) || res.TarSize != int64(len(l.Tar)) {
		t.Errorf("tar size: Load %d, Result %d, want %d", got.UncompressedTarSize, res.TarSize, len(l.Tar))
	}
	if got.TOCUncompressedSize != want.TOCUncompressedSize {
		t.Errorf("TOC JSON %d bytes, upstream's %d", got.TOCUncompressedSize, want.TOCUncompressedSize)
	}
	if got.TarSplitSize != want.TarSplitSize || got.TarSplitDigest != res.TarSplitDigest {
		t.Errorf("tar-split %d bytes %s, upstream's %d bytes; Result says %s", got.TarSplitSize, got.TarSplitDigest, want.TarSplitSize, res.TarSplitDigest)
	}
	if got.TOCVersion != 1 {
		t.Errorf("TOC version %d", got.TOCVersion)
	}
	if res.DiffID != digest.FromBytes(l.Tar) {
		t.Errorf("DiffID %s, want %s", res.DiffID, digest.FromBytes(l.Tar))
	}
	// The same tar-split bytes as upstream: it is tar-split's own encoding.
	ts := zstdDecode(t, ours.Blob[res.Annotations.TarSplit.Offset:][:res.Annotations.TarSplit.Length])
	if !bytes.Equal(ts, l.rawTarSplit(t)) {
		t.Error("tar-split JSON differs from upstream's")
	}
}

// TestWriterPulledByUpstream: upstream's differ accepts our blob (TOC
// digest, positions, chunk ranges) and the committed layer reproduces the
// input tar.
func TestWriterPulledByUpstream(t *testing.T) {
	store := testutil.NewOverlayStore(t, map[string]string{"enable_partial_images": "true"})
	tarBytes := testutil.TarBytes(t, testutil.RichTree(1))
	layer, res := ourLayer(t, tarBytes)

	src := testutil.NewSource(layer.Blob)
	out, err := testutil.UpstreamPull(t, store, layer, src)
	if err != nil {
		t.Fatal(err)
	}
	if out.TOCDigest != res.Annotations.TOCDigest {
		t.Errorf("upstream TOC digest %s, ours %s", out.TOCDigest, res.Annotations.TOCDigest)
	}
	if want := digest.FromBytes(tarBytes); out.UncompressedDigest != want {
		t.Errorf("upstream DiffID %s, want sha256(tar) %s", out.UncompressedDigest, want)
	}
	if out.Size != int64(len(tarBytes)) {
		t.Errorf("upstream size %d, want %d", out.Size, len(tarBytes))
	}
	t.Logf("upstream pull: %d GetBlobAt calls, %d bytes of a %d-byte blob", src.Calls(), src.BytesServed(), len(layer.Blob))

	l := testutil.ApplyStaged(t, store, out, "")
	if l.TOCDigest != res.Annotations.TOCDigest {
		t.Errorf("layer TOC digest %s", l.TOCDigest)
	}
	if got := testutil.LayerTar(t, store, l.ID); !bytes.Equal(got, tarBytes) {
		t.Errorf("store.Diff gives %d bytes (sha %s), not the %d-byte input tar", len(got), digest.FromBytes(got), len(tarBytes))
		if d := testutil.Diff(testutil.TarSnapshot(t, tarBytes), testutil.TarSnapshot(t, got)); len(d) > 0 {
			t.Errorf("and its contents differ: %v", d)
		}
	}
}
