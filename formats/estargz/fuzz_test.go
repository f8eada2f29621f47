package estargz

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"github.com/chunkdiff/chunkdiff/formats"
	"github.com/chunkdiff/chunkdiff/internal/blob/seekable"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata from a freshly built eStargz blob")

// Seeds are the footer and TOC member of a real blob (the rich tree,
// 100000-byte chunks, prioritized files), kept in testdata: building the blob inside a
// fuzz target would dominate a short run.
const (
	seedFooter = "testdata/rich-tree.footer"
	seedMember = "testdata/rich-tree.toc.gz"
)

func TestSeeds(t *testing.T) {
	l := build(t, variants[3])
	member := l.Blob[l.TOCOffset : len(l.Blob)-FooterSize]
	footer := l.Blob[len(l.Blob)-FooterSize:]
	if *updateSeeds {
		for p, b := range map[string][]byte{seedFooter: footer, seedMember: member} {
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The build is deterministic, so stale seeds show.
	for p, want := range map[string][]byte{seedFooter: footer, seedMember: member} {
		if got, _ := os.ReadFile(p); !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go test -run TestSeeds -update-seeds", p)
		}
	}
	// The seeds are real: the footer parses and the member loads as a TOC
	// behind a data section as long as the original.
	f, err := os.ReadFile(seedFooter)
	if err != nil {
		t.Fatal(err)
	}
	off, err := ParseFooter(f)
	if err != nil || off <= 0 {
		t.Fatalf("seed footer: %d, %v", off, err)
	}
	m, err := os.ReadFile(seedMember)
	if err != nil {
		t.Fatal(err)
	}
	src := sparseBlob(off, m)
	meta, err := loadFrom(t, src, src.size, digestOf(refTOC(t, m)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if meta.Counts.Chunks == 0 || meta.Counts.Landmarks != 1 {
		t.Errorf("seed too poor: %+v", meta.Counts)
	}
}

// sparseBlob is a virtual blob: dataLen zero bytes, member, a footer.
func sparseBlob(dataLen int64, member []byte) *sparseSource {
	tail := append(bytes.Clone(member), footerBytes(dataLen)...)
	return &sparseSource{size: dataLen + int64(len(tail)), tail: tail}
}

func FuzzParseFooter(f *testing.F) {
	if b, err := os.ReadFile(seedFooter); err == nil {
		f.Add(b)
	}
	f.Add(footerBytes(0))
	f.Add(footerBytes(1<<63 - 1))
	f.Add(make([]byte, FooterSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		off, err := ParseFooter(b)
		if err != nil {
			var fe *FooterError
			if !errors.As(err, &fe) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// Whatever parses is a footer this reader would write back the
		// same, modulo MTIME, XFL, OS and the hex digits' case.
		if off < 0 {
			t.Fatalf("negative offset %d", off)
		}
		want := footerBytes(off)
		got := bytes.Clone(b)
		copy(got[4:10], want[4:10])
		copy(got[16:32], strings.ToLower(string(got[16:32])))
		if !bytes.Equal(got, want) {
			t.Fatalf("accepted %q, offset %d", b, off)
		}
		if v, err := strconv.ParseInt(string(b[16:32]), 16, 64); err != nil || v != off {
			t.Fatalf("offset %d, strconv %d %v", off, v, err)
		}
	})
}

// FuzzLoadTOC feeds arbitrary bytes as the TOC gzip member, behind a data
// section of dataLen bytes, through Load. The first Load uses a wrong
// digest; if it gets as far as computing the real one, Load runs again with
// it, so the JSON decoding and validation are exercised too.
func FuzzLoadTOC(f *testing.F) {
	if b, err := os.ReadFile(seedMember); err == nil {
		if ft, err := os.ReadFile(seedFooter); err == nil {
			if off, err := ParseFooter(ft); err == nil {
				f.Add(b, uint32(off))
			}
		}
	}
	small := []byte(`{"version":1,"entries":[{"type":"reg","name":"a","size":3,"offset":10,"digest":"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","chunkSize":2,"chunkDigest":"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},{"type":"chunk","name":"a","offset":15,"chunkOffset":2}]}`)
	f.Add(gzipTar(f, []tarMember{{"stargz.index.json", '0', small}}, nil), uint32(100))
	f.Add(gzipTar(f, []tarMember{{"stargz.index.json", '0', []byte(`{}`)}}, nil), uint32(0))
	dir := f.TempDir() // shared: the spool is unlinked, so it must stay empty
	f.Fuzz(func(t *testing.T, member []byte, dataLen uint32) {
		if len(member) == 0 {
			return
		}
		src := sparseBlob(int64(dataLen), member)
		// 1 MiB keeps the worst case (inflating to the bound) cheap.
		opts := Options{TempDir: dir, Limits: formats.Limits{MaxTOCSize: 1 << 20}}
		run := func(d digest.Digest) (*Metadata, error) {
			m, err := Load(context.Background(), seekable.From(src), src.size, d, opts)
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Fatalf("left behind: %v", left)
			}
			if err != nil && m != nil {
				t.Fatal("metadata with an error")
			}
			return m, err
		}
		_, err := run(digest.FromString("not the TOC"))
		var de *formats.DigestError
		if !errors.As(err, &de) {
			return
		}
		m, err := run(digest.Digest(de.Computed))
		if err != nil {
			var le *formats.LimitError
			if errors.As(err, &le) {
				t.Fatalf("LimitError after the TOC was read: %v", err)
			}
			return
		}
		defer m.Close()
		j, err := io.ReadAll(m.TOCJSON())
		if err != nil || digest.FromBytes(j) != digest.Digest(de.Computed) || uint64(len(j)) != m.TOCUncompressedSize {
			t.Fatalf("spool does not match the digest: %v", err)
		}
		// Loaded entries decode again the same way.
		d, err := m.Entries()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for ; ; n++ {
			if _, err := d.Next(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("re-decoding: %v", err)
			}
		}
		if n != m.Counts.Entries {
			t.Fatalf("%d entries, counted %d", n, m.Counts.Entries)
		}
	})
}
