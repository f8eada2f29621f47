package zstdchunked

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
)

// TestWriterChunksMatchUpstream: for the same tar, our TOC has the same
// chunks (and every other entry field but compressed offsets) as
// upstream's, and the blob decompresses to the tar.
func TestWriterChunksMatchUpstream(t *testing.T) {
	tarBytes := testutil.TarBytes(t, testutil.RichTree(1))
	up := testutil.ZstdChunked(t, tarBytes)
	upAnn, err := ParseAnnotations(up.Annotations)
	if err != nil {
		t.Fatal(err)
	}
	ours, res := ourLayer(t, tarBytes)

	if got := zstdDecode(t, ours.Blob); !bytes.Equal(got, tarBytes) {
		t.Fatalf("blob decompresses to %d bytes, not the %d-byte input tar", len(got), len(tarBytes))
	}
	upTOC := decodeWTOC(t, blobTOC(t, up.Blob, upAnn))
	ourTOC := decodeWTOC(t, blobTOC(t, ours.Blob, res.Annotations))

	uc, oc := chunkList(upTOC), chunkList(ourTOC)
	if !reflect.DeepEqual(uc, oc) {
		t.Errorf("chunk lists differ: upstream %d, ours %d", len(uc), len(oc))
		for i := range min(len(uc), len(oc)) {
			if uc[i] != oc[i] {
				t.Errorf("first difference at %d: upstream %+v, ours %+v", i, uc[i], oc[i])
				break
			}
		}
	}
	if !reflect.DeepEqual(withoutOffsets(upTOC), withoutOffsets(ourTOC)) {
		t.Error("TOC entries differ beyond compressed offsets")
	}
	var zeros, multi int
	for _, c := range oc {
		if c.ChunkType == "zeros" {
			zeros++
		}
		if c.ChunkOffset > 0 {
			multi++
		}
	}
	if zeros == 0 || multi < 10 {
		t.Errorf("tree exercises too little: %d zeros chunks, %d further chunks", zeros, multi)
	}
	t.Logf("%d chunk-bearing entries, %d zeros chunks; blob %d bytes (upstream %d)", len(oc), zeros, len(ours.Blob), len(up.Blob))
}
