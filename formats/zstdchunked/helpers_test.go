package zstdchunked

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
)

// realLayer is an upstream-written zstd:chunked blob over testutil's rich
// tree (every entry type, multi-chunk files, holes, xattrs).
type realLayer struct {
	testutil.Layer
	Tar []byte
	Ann Annotations
}

var (
	realOnce sync.Once
	realVal  realLayer
)

func rich(t testing.TB) realLayer {
	t.Helper()
	realOnce.Do(func() {
		tarBytes := testutil.TarBytes(t, testutil.RichTree(1))
		l := testutil.ZstdChunked(t, tarBytes)
		a, err := ParseAnnotations(l.Annotations)
		if err != nil {
			t.Fatal(err)
		}
		realVal = realLayer{Layer: l, Tar: tarBytes, Ann: a}
	})
	return realVal
}

func zstdDecode(t testing.TB, b []byte) []byte {
	t.Helper()
	d, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out, err := d.DecodeAll(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func zstdEncode(t testing.TB, b []byte) []byte {
	t.Helper()
	e, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.EncodeAll(b, nil)
}

// rawTOC and rawTarSplit read the metadata straight from the blob, without
// the code under test.
func (l realLayer) rawTOC(t testing.TB) []byte {
	return zstdDecode(t, l.Blob[l.Ann.TOC.Offset:l.Ann.TOC.Offset+l.Ann.TOC.Length])
}

func (l realLayer) rawTarSplit(t testing.TB) []byte {
	return zstdDecode(t, l.Blob[l.Ann.TarSplit.Offset:l.Ann.TarSplit.Offset+l.Ann.TarSplit.Length])
}

// tocDoc is a TOC decoded generically (numbers kept exact) for editing.
type tocDoc map[string]any

func (l realLayer) tocDoc(t testing.TB) tocDoc {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(l.rawTOC(t)))
	d.UseNumber()
	var m tocDoc
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (d tocDoc) entries() []any { return d["entries"].([]any) }

// entry returns the entry object with the given name and type != chunk.
func (d tocDoc) entry(t testing.TB, name string) map[string]any {
	t.Helper()
	for _, e := range d.entries() {
		m := e.(map[string]any)
		if m["name"] == name && m["type"] != "chunk" {
			return m
		}
	}
	t.Fatalf("no TOC entry %q", name)
	return nil
}

// built is a re-encoded blob with consistent digests and positions.
type built struct {
	Blob []byte
	Ann  Annotations
}

// rebuild re-encodes the blob's metadata: the data section is kept, the TOC
// JSON and tar-split are compressed anew, tarSplitDigest and the annotations
// are recomputed. This is test scaffolding, not a writer: the footer is left
// zero because readers never use it.
func (l realLayer) rebuild(t testing.TB, toc tocDoc, tarSplit []byte) built {
	t.Helper()
	var tsComp []byte
	if tarSplit != nil {
		tsComp = zstdEncode(t, tarSplit)
		// Recompute unless the test put in a digest of its own.
		if v, _ := toc["tarSplitDigest"].(string); v == "" || v == l.tocDoc(t)["tarSplitDigest"] {
			toc["tarSplitDigest"] = digest.FromBytes(tsComp).String()
		}
	}
	j, err := json.Marshal(toc)
	if err != nil {
		t.Fatal(err)
	}
	return l.rebuildRaw(t, zstdEncode(t, j), uint64(len(j)), tsComp, uint64(len(tarSplit)))
}

// rebuildRaw assembles data section + TOC frame + tar-split frame + footer
// from already-compressed metadata.
func (l realLayer) rebuildRaw(t testing.TB, tocComp []byte, tocLen uint64, tsComp []byte, tsLen uint64) built {
	t.Helper()
	dataEnd := l.Ann.TOC.Offset - 8
	var b bytes.Buffer
	b.Write(l.Blob[:dataEnd])
	frame := func(p []byte) {
		var h [8]byte
		copy(h[:], []byte{0x50, 0x2a, 0x4d, 0x18})
		binary.LittleEndian.PutUint32(h[4:], uint32(len(p)))
		b.Write(h[:])
		b.Write(p)
	}
	frame(tocComp)
	ann := Annotations{TOCDigest: digest.FromBytes(tocComp), TOC: Position{Offset: dataEnd + 8, Length: uint64(len(tocComp)), UncompressedLength: tocLen}}
	if tsComp != nil {
		ann.TarSplit = Position{Offset: uint64(b.Len()) + 8, Length: uint64(len(tsComp)), UncompressedLength: tsLen}
		frame(tsComp)
	}
	frame(make([]byte, 64))
	return built{Blob: b.Bytes(), Ann: ann}
}

// annotationsMap renders ann the way a writer would.
func annotationsMap(a Annotations) map[string]string {
	m := map[string]string{
		AnnotationTOCDigest:   a.TOCDigest.String(),
		AnnotationTOCPosition: fmt.Sprintf("%d:%d:%d:1", a.TOC.Offset, a.TOC.Length, a.TOC.UncompressedLength),
	}
	if a.HasTarSplitPosition() {
		m[AnnotationTarSplitPosition] = fmt.Sprintf("%d:%d:%d", a.TarSplit.Offset, a.TarSplit.Length, a.TarSplit.UncompressedLength)
	}
	return m
}

func zstdEncodeF(b []byte) []byte {
	e, _ := zstd.NewWriter(nil)
	return e.EncodeAll(b, nil)
}

func zstdDecodeF(b []byte) []byte {
	d, _ := zstd.NewReader(nil)
	defer d.Close()
	out, _ := d.DecodeAll(b, nil)
	return out
}
