package zstdchunked

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
)

// checkChunkRanges decodes every chunk's compressed range on its own, as a
// partial pull does, and checks it against the TOC: each range must start
// a frame and hold exactly the chunk (FORMATS.md "zstd-frames", "chunk-ranges"). Ranges are
// derived like upstream's reader: up to the next chunk's offset, the last
// chunk up to the file's endOffset.
func checkChunkRanges(t *testing.T, blob []byte, d wTOC, tocOffset uint64) {
	t.Helper()
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var prev int64
	for i, e := range d.Entries {
		if e.Offset == 0 {
			continue
		}
		if e.Offset <= prev || uint64(e.Offset) >= tocOffset {
			t.Fatalf("entry %d %q: offset %d not ascending in (%d, %d)", i, e.Name, e.Offset, prev, tocOffset)
		}
		prev = e.Offset
		end, size, want := e.EndOffset, e.Size, e.Digest
		if e.ChunkDigest != "" {
			size, want = e.ChunkSize, e.ChunkDigest
			end = 0
			if i+1 < len(d.Entries) && d.Entries[i+1].Type == "chunk" {
				end = d.Entries[i+1].Offset
			} else {
				for j := i; j >= 0; j-- { // the file's reg entry
					if d.Entries[j].Type == "reg" {
						end = d.Entries[j].EndOffset
						break
					}
				}
			}
		}
		got, err := dec.DecodeAll(blob[e.Offset:end], nil)
		if err != nil {
			t.Fatalf("entry %d %q: range [%d,%d) does not decode alone: %v", i, e.Name, e.Offset, end, err)
		}
		if int64(len(got)) != size || digest.FromBytes(got).String() != want {
			t.Fatalf("entry %d %q: range [%d,%d) holds %d bytes %s, want %d bytes %s", i, e.Name, e.Offset, end, len(got), digest.FromBytes(got), size, want)
		}
		if e.ChunkType == "zeros" && !bytes.Equal(got, make([]byte, len(got))) {
			t.Fatalf("entry %d %q: zeros chunk holds non-zero bytes", i, e.Name)
		}
	}
}

func TestWriterFramesAndFooter(t *testing.T) {
	tarBytes := testutil.TarBytes(t, testutil.RichTree(2))
	layer, res := ourLayer(t, tarBytes)
	a := res.Annotations
	checkChunkRanges(t, layer.Blob, decodeWTOC(t, blobTOC(t, layer.Blob, a)), a.TOC.Offset)

	// A streaming decoder, not only DecodeAll, yields the tar.
	dec, err := zstd.NewReader(bytes.NewReader(layer.Blob))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(dec); err != nil {
		t.Fatal(err)
	}
	dec.Close()
	if !bytes.Equal(out.Bytes(), tarBytes) {
		t.Fatal("streaming decode differs from the tar")
	}
	if res.DiffID != digest.FromBytes(tarBytes) || res.TarSize != int64(len(tarBytes)) {
		t.Errorf("DiffID/TarSize %s/%d", res.DiffID, res.TarSize)
	}
	if sum := sha256.Sum256(blobBytes(layer.Blob, a.TOC)); digest.NewDigestFromBytes(digest.SHA256, sum[:]) != a.TOCDigest {
		t.Error("TOC digest is not over the stored TOC bytes")
	}

	// The footer, parsed from the blob, agrees with the annotations, and
	// upstream's blob parses the same way.
	for _, c := range []struct {
		name string
		blob []byte
		ann  map[string]string
	}{{"ours", layer.Blob, layer.Annotations}, {"upstream", testutil.ZstdChunked(t, tarBytes).Blob, testutil.ZstdChunked(t, tarBytes).Annotations}} {
		want, err := ParseAnnotations(c.ann)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseFooter(c.blob)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.TOC != want.TOC || got.TarSplit != want.TarSplit {
			t.Errorf("%s: footer %+v, annotations %+v", c.name, got, want)
		}
		// The frames sit where the positions say: TOC, tar-split, footer.
		if end := want.TarSplit.Offset + want.TarSplit.Length + trailerSize; end != uint64(len(c.blob)) {
			t.Errorf("%s: tar-split ends at %d, blob at %d minus the footer", c.name, end-trailerSize, len(c.blob))
		}
		if want.TarSplit.Offset != want.TOC.Offset+want.TOC.Length+skippableHeader {
			t.Errorf("%s: tar-split frame does not follow the TOC frame", c.name)
		}
	}
}

func blobBytes(blob []byte, p Position) []byte { return blob[p.Offset : p.Offset+p.Length] }

// parseFooter reads the footer the way a footer-reading tool would
// (FORMATS.md "zstd-footer"); test-only, readers use the annotations.
func parseFooter(blob []byte) (Annotations, error) {
	var a Annotations
	f := blob[len(blob)-trailerSize:]
	if !bytes.Equal(f[:4], skippableMagic[:]) || binary.LittleEndian.Uint32(f[4:8]) != footerSize {
		return a, errf("bad footer frame header % x", f[:8])
	}
	f = f[8:]
	if !bytes.Equal(f[56:], footerMagic[:]) || binary.LittleEndian.Uint64(f[24:]) != manifestTypeCRFS {
		return a, errf("bad footer magic/type % x", f[24:])
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(f[8*i:]) }
	a.TOC = Position{u(0), u(1), u(2)}
	a.TarSplit = Position{u(4), u(5), u(6)}
	return a, nil
}

func errf(format string, args ...any) error { return fmt.Errorf(format, args...) }
