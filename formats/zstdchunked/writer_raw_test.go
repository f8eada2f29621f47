package zstdchunked

import (
	"bytes"
	"io"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"go.podman.io/storage/pkg/chunked/compressor"
)

// TestWriterUncompressedVariant checks the "convert_images" layout
// (FORMATS.md "convert-variant") directly: the raw tar, then the raw TOC and tar-split at the
// announced positions, digests over the raw bytes, offsets into the tar.
// Our read side only reads compressed metadata, so the TOC and tar-split
// are checked with its validation and consistency passes instead of Load.
func TestWriterUncompressedVariant(t *testing.T) {
	tarBytes := testutil.TarBytes(t, testutil.RichTree(1))
	var buf bytes.Buffer
	res, err := Compress(&buf, bytes.NewReader(tarBytes), WithoutCompression())
	if err != nil {
		t.Fatal(err)
	}
	blob := buf.Bytes()
	a := res.Annotations
	if res.DiffID != digest.FromBytes(tarBytes) || res.TarSize != int64(len(tarBytes)) {
		t.Errorf("DiffID/TarSize %s/%d, want %s/%d", res.DiffID, res.TarSize, digest.FromBytes(tarBytes), len(tarBytes))
	}
	if !bytes.HasPrefix(blob, tarBytes) || a.TOC.Offset != uint64(len(tarBytes))+skippableHeader {
		t.Fatalf("the blob does not start with the raw tar followed by the TOC frame (TOC at %d)", a.TOC.Offset)
	}
	tocJSON := blobBytes(blob, a.TOC)
	tsJSON := blobBytes(blob, a.TarSplit)
	if a.TOC.Length != a.TOC.UncompressedLength || a.TarSplit.Length != a.TarSplit.UncompressedLength {
		t.Errorf("raw lengths differ from uncompressed lengths: %+v", a)
	}
	if a.TOCDigest != digest.FromBytes(tocJSON) || res.TarSplitDigest != digest.FromBytes(tsJSON) {
		t.Error("digests are not over the raw TOC / tar-split")
	}
	d := decodeWTOC(t, tocJSON)
	if d.TarSplitDigest != res.TarSplitDigest.String() {
		t.Errorf("TOC tarSplitDigest %s, want %s", d.TarSplitDigest, res.TarSplitDigest)
	}
	if f, err := parseFooter(blob); err != nil || f.TOC != a.TOC || f.TarSplit != a.TarSplit {
		t.Errorf("footer %+v (%v), annotations %+v", f, err, a)
	}

	// Offsets point into the raw tar: each chunk's bytes are there.
	for i, e := range d.Entries {
		if e.Offset == 0 {
			continue
		}
		n, want := e.Size, e.Digest
		if e.ChunkDigest != "" {
			n, want = e.ChunkSize, e.ChunkDigest
		}
		if got := digest.FromBytes(tarBytes[e.Offset : e.Offset+n]); got.String() != want {
			t.Fatalf("entry %d %q: tar[%d:+%d] is %s, want %s", i, e.Name, e.Offset, n, got, want)
		}
	}

	// The read side's own checks: entry validation and TOC/tar-split
	// consistency, which also sums the tar size.
	ts := newTarSplitHeaders(bytes.NewReader(tsJSON))
	_, dec, err := decodeOnce(func() io.Reader { return bytes.NewReader(tocJSON) }, int64(a.TOC.Offset), ts, nil, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if dec.TarSplitDigest() != res.TarSplitDigest {
		t.Errorf("decoder sees tarSplitDigest %s", dec.TarSplitDigest())
	}
	if ts.size != int64(len(tarBytes)) {
		t.Errorf("tar-split sums to %d bytes, want %d", ts.size, len(tarBytes))
	}

	// Chunking is the same as in the compressed variant.
	comp, cres := ourLayer(t, tarBytes)
	if cl, rl := chunkList(decodeWTOC(t, blobTOC(t, comp.Blob, cres.Annotations))), chunkList(d); len(cl) != len(rl) {
		t.Errorf("compressed variant has %d chunk entries, raw %d", len(cl), len(rl))
	} else {
		for i := range cl {
			if cl[i] != rl[i] {
				t.Fatalf("chunk %d: compressed %+v, raw %+v", i, cl[i], rl[i])
			}
		}
	}

	// Upstream's pass-through writer produces the very same bytes and
	// annotations: without compression nothing is left to differ.
	var up bytes.Buffer
	upAnn := map[string]string{}
	w, err := compressor.NoCompression(&up, upAnn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(tarBytes); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(up.Bytes(), blob) {
		t.Errorf("blob differs from upstream's NoCompression output (%d vs %d bytes)", len(blob), up.Len())
	}
	for k, v := range a.Map() {
		if upAnn[k] != v {
			t.Errorf("annotation %s = %q, upstream %q", k, v, upAnn[k])
		}
	}
}
