package estargz

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sync"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	stargz "github.com/containerd/stargz-snapshotter/estargz"
	"github.com/opencontainers/go-digest"
	chunked "go.podman.io/storage/pkg/chunked"
)

// variant is one way of building an eStargz layer from the rich tree.
type variant struct {
	name        string
	chunkSize   int // 0: the library default (4 MiB)
	prioritized []string
}

var variants = []variant{
	{"default chunks", 0, nil},
	{"64KiB chunks", 64 << 10, nil},
	{"1MiB chunks prioritized", 1 << 20, []string{"usr/bin/big", "etc/config"}},
	{"odd 100000-byte chunks prioritized", 100000, []string{"etc/tiny", "usr/lib/libbig.so"}},
}

// realLayer is an estargz.Build-written blob over testutil's rich tree, and
// its TOC read with the reference library and the standard library only.
type realLayer struct {
	testutil.Layer
	TOCOffset int64
	TOCJSON   []byte
}

var layerCache sync.Map // variant name -> realLayer

func build(t testing.TB, v variant) realLayer {
	t.Helper()
	if l, ok := layerCache.Load(v.name); ok {
		return l.(realLayer)
	}
	l := testutil.EStargz(t, testutil.TarBytes(t, testutil.RichTree(1)), v.chunkSize, v.prioritized)
	off, fsize, err := stargz.OpenFooter(io.NewSectionReader(bytes.NewReader(l.Blob), 0, int64(len(l.Blob))))
	if err != nil || fsize != FooterSize {
		t.Fatalf("reference footer: %d, %v", fsize, err)
	}
	r := realLayer{Layer: l, TOCOffset: off, TOCJSON: refTOC(t, l.Blob[off:len(l.Blob)-FooterSize])}
	layerCache.Store(v.name, r)
	return r
}

func rich(t testing.TB) realLayer { return build(t, variants[1]) }

// refTOC extracts the TOC JSON from a TOC gzip member with the standard
// library, without the code under test.
func refTOC(t testing.TB, member []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(member))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	if _, err := tr.Next(); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(tr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// footerBytes is the 51-byte footer for a TOC at off, written from the
// table in FORMATS.md "estargz-footer".
func footerBytes(off int64) []byte {
	b := []byte{0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 26, 0, 'S', 'G', 22, 0}
	b = fmt.Appendf(b, "%016xSTARGZ", off)
	b = append(b, 0x01, 0x00, 0x00, 0xff, 0xff)
	return append(b, make([]byte, 8)...)
}

// tarMember is one entry of a hand-made TOC member.
type tarMember struct {
	name string
	typ  byte
	data []byte
}

// gzipTar compresses a tar of members, followed inside the same gzip stream
// by tail (raw bytes after the end-of-archive blocks).
func gzipTar(t testing.TB, members []tarMember, tail []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	for _, m := range members {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Typeflag: m.typ, Size: int64(len(m.data)), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(tail); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// tocOnly is the usual TOC member holding json.
func tocOnly(t testing.TB, json []byte) []byte {
	return gzipTar(t, []tarMember{{stargz.TOCTarName, tar.TypeReg, json}}, nil)
}

// withMember replaces the blob's TOC member (and footer) with member; the
// data section is kept.
func (l realLayer) withMember(member []byte) []byte {
	b := bytes.Clone(l.Blob[:l.TOCOffset])
	b = append(b, member...)
	return append(b, footerBytes(l.TOCOffset)...)
}

// withFooter replaces the footer.
func (l realLayer) withFooter(f []byte) []byte {
	return append(bytes.Clone(l.Blob[:len(l.Blob)-FooterSize]), f...)
}

// tocDoc is a TOC decoded generically (numbers kept exact) for editing.
type tocDoc map[string]any

func (l realLayer) tocDoc(t testing.TB) tocDoc {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(l.TOCJSON))
	d.UseNumber()
	var m tocDoc
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (d tocDoc) entries() []any { return d["entries"].([]any) }

// entry returns the first entry with the given name and type.
func (d tocDoc) entry(t testing.TB, name, typ string) map[string]any {
	t.Helper()
	for _, e := range d.entries() {
		m := e.(map[string]any)
		if m["name"] == name && m["type"] == typ {
			return m
		}
	}
	t.Fatalf("no TOC entry %q of type %s", name, typ)
	return nil
}

func (d tocDoc) json(t testing.TB) []byte {
	t.Helper()
	j, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// sparseSource serves a virtual blob of size bytes: zeros, then tail at the
// end. It lets tests use huge blob sizes and arbitrary data-section lengths
// without allocating them.
type sparseSource struct {
	size int64
	tail []byte

	mu       sync.Mutex
	requests [][]chunked.ImageSourceChunk
}

func (s *sparseSource) Requests() [][]chunked.ImageSourceChunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]chunked.ImageSourceChunk(nil), s.requests...)
}

func (s *sparseSource) GetBlobAt(chunks []chunked.ImageSourceChunk) (chan io.ReadCloser, chan error, error) {
	s.mu.Lock()
	s.requests = append(s.requests, append([]chunked.ImageSourceChunk(nil), chunks...))
	s.mu.Unlock()
	for _, c := range chunks {
		if c.Offset > uint64(s.size) || c.Length != math.MaxUint64 && c.Length > uint64(s.size)-c.Offset {
			return nil, nil, fmt.Errorf("range %d+%d outside the %d-byte blob", c.Offset, c.Length, s.size)
		}
	}
	streams, errs := make(chan io.ReadCloser), make(chan error)
	go func() {
		defer close(errs)
		defer close(streams)
		for _, c := range chunks {
			n := c.Length
			if n == math.MaxUint64 {
				n = uint64(s.size) - c.Offset
			}
			streams <- io.NopCloser(io.NewSectionReader(s, int64(c.Offset), int64(n)))
		}
	}()
	return streams, errs, nil
}

// ReadAt makes the virtual blob readable.
func (s *sparseSource) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	n := 0
	tailAt := s.size - int64(len(s.tail))
	for n < len(p) && off < s.size {
		if off < tailAt {
			k := min(int64(len(p)-n), tailAt-off)
			clear(p[n : n+int(k)])
			n += int(k)
			off += k
			continue
		}
		k := copy(p[n:], s.tail[off-tailAt:])
		n += k
		off += int64(k)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

var _ chunked.ImageSourceSeekable = (*sparseSource)(nil)

// le16 is a little-endian uint16, for footer patches.
func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

// digestOf is the sha256 of b.
func digestOf(b []byte) digest.Digest { return digest.FromBytes(b) }
