package zstdchunked

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/chunkdiff/chunkdiff/formats"
	"github.com/chunkdiff/chunkdiff/internal/blob"
	"github.com/chunkdiff/chunkdiff/internal/blob/seekable"
	"io"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/keyset"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func load(t testing.TB, blob []byte, ann Annotations, opts Options, srcOpts ...testutil.SourceOption) (*Metadata, *testutil.Source, error) {
	t.Helper()
	if opts.TempDir == "" {
		opts.TempDir = t.TempDir()
	}
	src := testutil.NewSource(blob, srcOpts...)
	m, err := Load(context.Background(), seekable.From(src), int64(len(blob)), ann, opts)
	if err == nil {
		t.Cleanup(func() { m.Close() })
	} else if m != nil {
		t.Fatalf("Load returned metadata with error %v", err)
	}
	// Nothing may be left in the temp dir, success or not (unlinked spools).
	if left, _ := os.ReadDir(opts.TempDir); len(left) != 0 {
		t.Errorf("temp dir not empty: %v", left)
	}
	return m, src, err
}

func TestLoadRealBlob(t *testing.T) {
	l := rich(t)
	m, src, err := load(t, l.Blob, l.Ann, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Reference: the TOC read straight from the blob with encoding/json.
	rawTOC := l.rawTOC(t)
	var ref struct {
		Entries []struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"entries"`
		TarSplitDigest string `json:"tarSplitDigest"`
	}
	if err := json.Unmarshal(rawTOC, &ref); err != nil {
		t.Fatal(err)
	}
	want := Counts{Entries: len(ref.Entries)}
	for _, e := range ref.Entries {
		switch e.Type {
		case "reg":
			want.Regular++
		case "chunk":
			want.Chunks++
		case "dir":
			want.Dirs++
		case "symlink":
			want.Symlinks++
		case "hardlink":
			want.Hardlinks++
		default:
			want.Other++
		}
	}
	if m.Counts != want {
		t.Errorf("counts %+v, want %+v", m.Counts, want)
	}
	// The tree really exercises everything.
	if want.Chunks == 0 || want.Other < 3 || want.Hardlinks == 0 || want.Symlinks == 0 {
		t.Errorf("tree too poor: %+v", want)
	}
	if m.TOCDigest != l.TOCDigest || m.TOCDigest.String() != l.Annotations[AnnotationTOCDigest] {
		t.Errorf("TOC digest %s, annotation %s", m.TOCDigest, l.Annotations[AnnotationTOCDigest])
	}
	if m.UncompressedTarSize != int64(len(l.Tar)) {
		t.Errorf("tar size %d, want %d", m.UncompressedTarSize, len(l.Tar))
	}
	if string(m.TarSplitDigest) != ref.TarSplitDigest || !m.HasTarSplit() {
		t.Errorf("tar-split digest %q, TOC says %q", m.TarSplitDigest, ref.TarSplitDigest)
	}
	if m.TOCOffset != l.Ann.TOC.Offset || m.TOCCompressedSize != l.Ann.TOC.Length || m.TOCUncompressedSize != uint64(len(rawTOC)) ||
		m.TarSplitCompressedSize != l.Ann.TarSplit.Length || m.TarSplitSize != l.Ann.TarSplit.UncompressedLength {
		t.Errorf("sizes %+v vs annotations %+v", m, l.Ann)
	}
	if reqs := src.Requests(); len(reqs) != 1 || len(reqs[0]) != 2 || reqs[0][0].Offset != l.Ann.TOC.Offset || reqs[0][1].Offset != l.Ann.TarSplit.Offset {
		t.Errorf("requests %v, want one call with the TOC and tar-split ranges", reqs)
	}
	got, _ := io.ReadAll(m.TOCJSON())
	if !bytes.Equal(got, rawTOC) {
		t.Error("TOCJSON differs from the blob's TOC")
	}
	// Two entry streams at once, both complete.
	d1, _ := m.Entries()
	d2, _ := m.Entries()
	for i := range ref.Entries {
		e1, err1 := d1.Next()
		e2, err2 := d2.Next()
		if err1 != nil || err2 != nil || e1.Name != ref.Entries[i].Name || e2.Name != ref.Entries[i].Name {
			t.Fatalf("entry %d: %v %v", i, err1, err2)
		}
	}
	if _, err := d1.Next(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
	ts := m.TakeTarSplit()
	if m.HasTarSplit() || m.TarSplit() != nil {
		t.Error("TakeTarSplit left the file in Metadata")
	}
	defer ts.Close()
	tsBytes, _ := io.ReadAll(io.NewSectionReader(ts, 0, 1<<40))
	if !bytes.Equal(tsBytes, l.rawTarSplit(t)) {
		t.Error("tar-split spool differs from the blob's tar-split")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Stat(); err != nil {
		t.Errorf("Close closed the taken tar-split: %v", err)
	}
	if _, err := m.Entries(); err == nil {
		t.Error("Entries after Close succeeded")
	}
}

func TestLoadWithoutTarSplitDigest(t *testing.T) {
	l := rich(t)
	doc := l.tocDoc(t)
	delete(doc, "tarSplitDigest")
	// Keep a tar-split frame: it is requested, drained and ignored.
	b := l.rebuild(t, doc, nil)
	withTS := l.rebuildRaw(t, b.Blob[b.Ann.TOC.Offset:b.Ann.TOC.Offset+b.Ann.TOC.Length], b.Ann.TOC.UncompressedLength, zstdEncode(t, l.rawTarSplit(t)), uint64(len(l.rawTarSplit(t))))
	for name, c := range map[string]built{"no position": b, "position": withTS} {
		t.Run(name, func(t *testing.T) {
			m, src, err := load(t, c.Blob, c.Ann, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if m.HasTarSplit() || m.UncompressedTarSize != -1 || m.TarSplitDigest != "" {
				t.Errorf("unexpected tar-split: %+v", m)
			}
			if n := len(src.Requests()[0]); n != 1+btoi(c.Ann.HasTarSplitPosition()) {
				t.Errorf("%d ranges requested", n)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestLoadLimits(t *testing.T) {
	l := rich(t)
	upstream := Options{Limits: formats.Limits{MetadataPolicy: formats.PolicyUpstream}}
	cases := []struct {
		name string
		ann  func(a *Annotations)
		opts Options
		what string
	}{
		{"TOC compressed over default", func(a *Annotations) { a.TOC.Length = formats.DefaultMaxTOCSize + 1 }, upstream, "TOC compressed size"},
		{"TOC uncompressed over default", func(a *Annotations) { a.TOC.UncompressedLength = formats.DefaultMaxTOCSize + 1 }, upstream, "TOC uncompressed size"},
		{"TOC over option", func(a *Annotations) {}, Options{Limits: formats.Limits{MetadataPolicy: formats.PolicyUpstream, MaxTOCSize: int64(100)}}, "TOC compressed size"},
		// Policy stream bounds the TOC like the tar-split: by disk.
		{"TOC over the stream bound", func(a *Annotations) { a.TOC.UncompressedLength = formats.DefaultMaxTarSplitSize + 1 }, Options{}, "TOC uncompressed size"},
		{"TOC uncompressed huge", func(a *Annotations) { a.TOC.UncompressedLength = math.MaxUint64 }, Options{}, "TOC uncompressed size"},
		{"tar-split compressed", func(a *Annotations) {}, Options{Limits: formats.Limits{MaxTarSplitSize: 10}}, "tar-split compressed size"},
		{"tar-split uncompressed", func(a *Annotations) { a.TarSplit.Length = 5 }, Options{Limits: formats.Limits{MaxTarSplitSize: 10}}, "tar-split uncompressed size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := l.Ann
			c.ann(&a)
			_, src, err := load(t, l.Blob, a, c.opts)
			var le *formats.LimitError
			if !errors.As(err, &le) || le.What != c.what || le.Size <= le.Limit {
				t.Fatalf("want LimitError on %s, got %v", c.what, err)
			}
			if !strings.Contains(err.Error(), c.what) {
				t.Errorf("message %q does not say %q", err, c.what)
			}
			if n := len(src.Requests()); n != 0 {
				t.Errorf("%d requests made before the limit check", n)
			}
		})
	}
}

// Policy stream loads a TOC over MaxTOCSize: upstream's in-memory limit
// does not apply to a TOC read from disk.
func TestLoadStreamsOverTheTOCLimit(t *testing.T) {
	l := rich(t)
	m, _, err := load(t, l.Blob, l.Ann, Options{Limits: formats.Limits{MaxTOCSize: 100}})
	if err != nil {
		t.Fatalf("policy stream refused a TOC over MaxTOCSize: %v", err)
	}
	if m.TOCUncompressedSize <= 100 || !m.HasTarSplit() {
		t.Fatalf("loaded %d bytes of TOC, tar-split %v", m.TOCUncompressedSize, m.HasTarSplit())
	}
}

func TestLoadLayout(t *testing.T) {
	l := rich(t)
	size := uint64(len(l.Blob))
	cases := []struct {
		name string
		ann  func(a *Annotations)
		want string
	}{
		{"TOC offset overflow", func(a *Annotations) { a.TOC.Offset = math.MaxUint64 - 5 }, "TOC range"},
		{"TOC past blob", func(a *Annotations) { a.TOC.Offset = size - 10 }, "TOC range"},
		{"TOC into footer", func(a *Annotations) { a.TOC.Offset = size - 72 - a.TOC.Length + 1 }, "TOC range"},
		{"TOC offset below frame header", func(a *Annotations) { a.TOC.Offset = 4 }, "TOC offset"},
		{"TOC empty", func(a *Annotations) { a.TOC.Length = 0 }, "TOC length"},
		{"tar-split overflow", func(a *Annotations) { a.TarSplit.Offset = math.MaxUint64 - 1 }, "tar-split range"},
		{"tar-split past blob", func(a *Annotations) { a.TarSplit.Length = size }, "tar-split range"},
		{"tar-split overlaps TOC", func(a *Annotations) { a.TarSplit.Offset = a.TOC.Offset + a.TOC.Length - 1 }, "overlaps"},
		{"tar-split before TOC", func(a *Annotations) { a.TarSplit.Offset = 100 }, "overlaps or precedes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := l.Ann
			c.ann(&a)
			_, src, err := load(t, l.Blob, a, Options{})
			var le *formats.LayoutError
			if !errors.As(err, &le) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want LayoutError %q, got %v", c.want, err)
			}
			if n := len(src.Requests()); n != 0 {
				t.Errorf("%d requests made", n)
			}
		})
	}
	t.Run("tiny blob", func(t *testing.T) {
		_, _, err := load(t, make([]byte, 50), l.Ann, Options{})
		var le *formats.LayoutError
		if !errors.As(err, &le) {
			t.Fatalf("want LayoutError, got %v", err)
		}
	})
}

// loadErr loads and asserts an error whose message contains every want.
func loadErr(t *testing.T, b built, wants ...string) error {
	t.Helper()
	_, _, err := load(t, b.Blob, b.Ann, Options{})
	if err == nil {
		t.Fatal("Load succeeded")
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	return err
}

func TestLoadBadTOC(t *testing.T) {
	l := rich(t)
	tsRaw := l.rawTarSplit(t)
	tocRaw := l.rawTOC(t)
	tocComp := l.Blob[l.Ann.TOC.Offset : l.Ann.TOC.Offset+l.Ann.TOC.Length]
	withTOC := func(comp []byte, ulen uint64) built {
		return l.rebuildRaw(t, comp, ulen, zstdEncode(t, tsRaw), uint64(len(tsRaw)))
	}
	t.Run("wrong TOC digest", func(t *testing.T) {
		a := l.Ann
		a.TOCDigest = digest.FromString("other")
		err := loadErr(t, built{l.Blob, a}, "TOC digest mismatch", a.TOCDigest.String(), l.TOCDigest.String())
		var de *formats.DigestError
		if !errors.As(err, &de) || de.Computed != l.TOCDigest.String() {
			t.Errorf("want DigestError, got %v", err)
		}
	})
	t.Run("sha512 TOC digest", func(t *testing.T) {
		a := l.Ann
		a.TOCDigest = digest.SHA512.FromBytes(tocComp)
		if _, _, err := load(t, l.Blob, a, Options{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("truncated zstd", func(t *testing.T) {
		loadErr(t, withTOC(tocComp[:len(tocComp)/2], uint64(len(tocRaw))), "TOC", "decompressing")
	})
	t.Run("corrupt zstd", func(t *testing.T) {
		c := bytes.Clone(tocComp)
		for i := 10; i < len(c); i += 7 {
			c[i] ^= 0x5a
		}
		loadErr(t, withTOC(c, uint64(len(tocRaw))), "TOC", "decompressing")
	})
	t.Run("not zstd", func(t *testing.T) {
		loadErr(t, withTOC([]byte("this is not zstd at all"), 10), "TOC", "decompressing")
	})
	t.Run("inflates past announced size", func(t *testing.T) {
		loadErr(t, withTOC(tocComp, uint64(len(tocRaw))-1), "more than the announced")
	})
	t.Run("inflates short of announced size", func(t *testing.T) {
		loadErr(t, withTOC(tocComp, uint64(len(tocRaw))+1), "announced")
	})
	t.Run("invalid JSON", func(t *testing.T) {
		j := []byte(`{"version":1,"entries":[{"type":"reg",`)
		loadErr(t, withTOC(zstdEncode(t, j), uint64(len(j))), "TOC", "entry 0")
	})
	t.Run("trailing JSON data", func(t *testing.T) {
		j := append(bytes.Clone(tocRaw), []byte(` {"entries":[]}`)...)
		err := loadErr(t, withTOC(zstdEncode(t, j), uint64(len(j))), "unexpected data after")
		if !errors.Is(err, toc.ErrTrailingData) {
			t.Errorf("not ErrTrailingData: %v", err)
		}
	})
	t.Run("wrong value type", func(t *testing.T) {
		doc := l.tocDoc(t)
		doc.entry(t, "etc/tiny")["size"] = "1"
		loadErr(t, l.rebuild(t, doc, tsRaw), `("etc/tiny")`, `key "size"`)
	})
	t.Run("tarSplitDigest without position", func(t *testing.T) {
		a := l.Ann
		a.TarSplit = Position{}
		err := loadErr(t, built{l.Blob, a}, AnnotationTarSplitPosition, "tarSplitDigest")
		var ae *AnnotationError
		if !errors.As(err, &ae) {
			t.Errorf("want AnnotationError, got %v", err)
		}
	})
	t.Run("tar-split digest mismatch", func(t *testing.T) {
		doc := l.tocDoc(t)
		doc["tarSplitDigest"] = digest.FromString("x").String()
		err := loadErr(t, l.rebuild(t, doc, tsRaw), "tar-split digest mismatch", digest.FromString("x").String())
		var de *formats.DigestError
		if !errors.As(err, &de) || de.What != "tar-split" {
			t.Errorf("want tar-split DigestError, got %v", err)
		}
	})
	t.Run("tar-split size mismatch", func(t *testing.T) {
		b := l.rebuild(t, l.tocDoc(t), tsRaw)
		b.Ann.TarSplit.UncompressedLength++
		loadErr(t, b, "tar-split", "announced")
	})
	t.Run("tar-split not JSON", func(t *testing.T) {
		loadErr(t, l.rebuild(t, l.tocDoc(t), []byte("garbage\n")), "tar-split")
	})
}

func TestLoadBadEntries(t *testing.T) {
	l := rich(t)
	tsRaw := l.rawTarSplit(t)
	cases := []struct {
		name  string
		edit  func(d tocDoc)
		wants []string
		is    error
	}{
		{"duplicate name", func(d tocDoc) {
			es := d.entries()
			d["entries"] = append(es, map[string]any{"type": "dir", "name": "etc/"})
		}, []string{"duplicate entry name", `"etc/"`}, ErrDuplicateName},
		{"chunk without reg", func(d tocDoc) {
			d["entries"] = append([]any{map[string]any{"type": "chunk", "name": "x"}}, d.entries()...)
		}, []string{"entry 0", `does not follow a "reg"`}, nil},
		{"negative size", func(d tocDoc) { d.entry(t, "etc/config")["size"] = -1 }, []string{`"etc/config"`, "negative size"}, nil},
		{"offset outside data", func(d tocDoc) {
			d.entry(t, "home/user/nobody")["offset"] = l.Ann.TOC.Offset + 5
		}, []string{`"home/user/nobody"`, "outside the data section"}, nil},
		{"offsets not ascending", func(d tocDoc) { d.entry(t, "home/user/nobody")["offset"] = 1 }, []string{`"home/user/nobody"`, "does not ascend"}, nil},
		{"unknown type", func(d tocDoc) { d.entry(t, "dev/fifo")["type"] = "socket" }, []string{`unknown entry type "socket"`}, nil},
		{"bad digest", func(d tocDoc) { d.entry(t, "etc/config")["digest"] = "sha256:nothex" }, []string{`"etc/config"`, "invalid digest"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := l.tocDoc(t)
			c.edit(doc)
			err := loadErr(t, l.rebuild(t, doc, tsRaw), c.wants...)
			var ee *EntryError
			if !errors.As(err, &ee) {
				t.Errorf("want EntryError, got %T", err)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("not %v", c.is)
			}
		})
	}
}

func TestLoadInconsistent(t *testing.T) {
	l := rich(t)
	tsRaw := l.rawTarSplit(t)
	set := func(name, key string, v any) func(d tocDoc) {
		return func(d tocDoc) { d.entry(t, name)[key] = v }
	}
	cases := []struct {
		name, field string
		edit        func(d tocDoc)
	}{
		{"type", "type", set("dev/fifo", "type", "char")},
		{"name", "name", set("etc/tiny", "name", "etc/tiny2")},
		{"linkName", "linkName", set("usr/bin/sh", "linkName", "other")},
		{"mode", "mode", set("etc/config", "mode", 0o644)},
		{"size", "size", set("etc/tiny", "size", 2)},
		{"uid", "uid", set("etc/config", "uid", 0)},
		{"gid", "gid", set("etc/config", "gid", 7)},
		{"devMajor", "devMajor", set("dev/null", "devMajor", 2)},
		{"devMinor", "devMinor", set("dev/null", "devMinor", 4)},
		{"xattrs value", "xattrs", func(d tocDoc) { d.entry(t, "xattr/file")["xattrs"].(map[string]any)["user.foo"] = "YmF6" }},
		{"xattrs added", "xattrs", set("etc/config", "xattrs", map[string]any{"user.a": "YQ=="})},
		{"modtime", "modtime", set("etc/config", "modtime", "2001-02-03T04:05:06Z")},
		{"accesstime", "accesstime", set("etc/config", "accesstime", "2001-02-03T04:05:06Z")},
		{"changetime", "changetime", set("etc/config", "changetime", "2001-02-03T04:05:06Z")},
		{"missing entry", "missing from TOC", func(d tocDoc) {
			es := d.entries()
			d["entries"] = es[:len(es)-1] // the last entry has no chunks
		}},
		{"extra entry", "missing from tar-split", func(d tocDoc) {
			d["entries"] = append(d.entries(), map[string]any{"type": "dir", "name": "extra/"})
		}},
		{"extra entry in the middle", "order", func(d tocDoc) {
			es := d.entries()
			d["entries"] = append([]any{map[string]any{"type": "dir", "name": "extra/"}}, es...)
			_ = es
		}},
		{"reordered", "order", func(d tocDoc) {
			es := d.entries()
			es[0], es[1] = es[1], es[0] // etc/ and etc/empty, no chunks
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := l.tocDoc(t)
			c.edit(doc)
			err := loadErr(t, l.rebuild(t, doc, tsRaw), "TOC and tar-split disagree")
			var ie *InconsistentError
			if !errors.As(err, &ie) {
				t.Fatalf("want InconsistentError, got %v", err)
			}
			if ie.Field != c.field {
				t.Errorf("field %q, want %q (%v)", ie.Field, c.field, err)
			}
		})
	}
	t.Run("epoch and absent times agree", func(t *testing.T) {
		doc := l.tocDoc(t)
		doc.entry(t, "etc/config")["accesstime"] = "1970-01-01T00:00:00Z"
		doc.entry(t, "etc/tiny")["changetime"] = "0001-01-01T00:00:00Z"
		if _, _, err := load(t, l.rebuild(t, doc, tsRaw).Blob, l.rebuild(t, doc, tsRaw).Ann, Options{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unchanged rebuild loads", func(t *testing.T) {
		b := l.rebuild(t, l.tocDoc(t), tsRaw)
		m, _, err := load(t, b.Blob, b.Ann, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if m.UncompressedTarSize != int64(len(l.Tar)) {
			t.Errorf("tar size %d", m.UncompressedTarSize)
		}
	})
}

func TestLoadSource(t *testing.T) {
	l := rich(t)
	boom := errors.New("boom")
	t.Run("bad request", func(t *testing.T) {
		_, _, err := load(t, l.Blob, l.Ann, Options{}, testutil.Refuse())
		if !errors.Is(err, blob.ErrRangesRefused) {
			t.Fatalf("want blob.ErrRangesRefused, got %v", err)
		}
	})
	t.Run("immediate error", func(t *testing.T) {
		_, _, err := load(t, l.Blob, l.Ann, Options{}, testutil.FailWith(boom))
		if !errors.Is(err, boom) || errors.Is(err, blob.ErrRangesRefused) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("too few streams", func(t *testing.T) {
		_, _, err := load(t, l.Blob, l.Ann, Options{}, testutil.StreamLimit(1))
		if !errors.Is(err, ErrTooFewStreams) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no streams", func(t *testing.T) {
		_, _, err := load(t, l.Blob, l.Ann, Options{}, testutil.StreamLimit(0))
		if !errors.Is(err, ErrTooFewStreams) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("too many streams", func(t *testing.T) {
		_, _, err := load(t, l.Blob, l.Ann, Options{}, testutil.ExtraStreams(2))
		if !errors.Is(err, ErrTooManyStreams) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("error on the error channel", func(t *testing.T) {
		_, _, err := load(t, l.Blob, l.Ann, Options{}, testutil.ErrorAfter(1, boom))
		if !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("error before any stream", func(t *testing.T) {
		_, _, err := load(t, l.Blob, l.Ann, Options{}, testutil.ErrorAfter(0, boom))
		if !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("truncated stream", func(t *testing.T) {
		_, _, err := load(t, l.Blob, l.Ann, Options{}, testutil.TruncateStreams(0, 10))
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("corrupted stream", func(t *testing.T) {
		_, _, err := load(t, l.Blob, l.Ann, Options{}, testutil.CorruptStreams(1))
		var de *formats.DigestError
		if !errors.As(err, &de) || de.What != "tar-split" {
			t.Fatalf("got %v", err)
		}
	})
}

// FuzzLoadTOC feeds arbitrary bytes as the compressed TOC, with a matching
// digest, through Load.
func FuzzLoadTOC(f *testing.F) {
	// Seed: the TOC of an upstream-written blob (testdata is regenerated by
	// hand; building the blob here would dominate a short fuzz run).
	if b, err := os.ReadFile("testdata/rich-tree.toc.zst"); err == nil {
		f.Add(b, uint32(len(zstdDecodeF(b))))
	}
	small := []byte(`{"version":1,"entries":[{"type":"reg","name":"a","size":3,"offset":10,"endOffset":20},{"type":"chunk","name":"a","offset":15}]}`)
	f.Add(zstdEncodeF(small), uint32(len(small)))
	dir := f.TempDir() // shared: every spool is unlinked, so it must stay empty
	f.Fuzz(func(t *testing.T, comp []byte, ulen uint32) {
		if len(comp) == 0 {
			return
		}
		var b bytes.Buffer
		b.Write(make([]byte, 4096)) // data section
		b.Write([]byte{0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0})
		b.Write(comp)
		b.Write(make([]byte, 72))
		a := Annotations{TOCDigest: digest.FromBytes(comp), TOC: Position{Offset: 4096 + 8, Length: uint64(len(comp)), UncompressedLength: uint64(ulen)}}
		m, err := Load(context.Background(), seekable.From(testutil.NewSource(b.Bytes())), int64(b.Len()), a, Options{TempDir: dir, Limits: formats.Limits{MaxTOCSize: 8 << 20}})
		if err == nil {
			if m.HasTarSplit() {
				t.Fatal("tar-split without position")
			}
			m.Close()
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Fatalf("left behind: %v", left)
		}
	})
}

// countingSink keeps the names a Load hands on, and fails after failAt
// entries when failAt > 0.
type countingSink struct {
	names  []string
	failAt int
}

var errSinkFull = errors.New("sink full")

func (s *countingSink) Add(e *toc.Entry) error {
	if s.failAt > 0 && len(s.names) == s.failAt {
		return errSinkFull
	}
	s.names = append(s.names, e.Name)
	return nil
}
func (*countingSink) TempSpace(n uint64) uint64 { return n }

// The sink gets every entry, in TOC order, from the same pass that
// validates them and checks them against the tar-split; a sink's error ends
// the load with nothing left behind.
func TestLoadSink(t *testing.T) {
	l := rich(t)
	var ref struct {
		Entries []struct {
			Name string `json:"name"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(l.rawTOC(t), &ref); err != nil {
		t.Fatal(err)
	}
	sink := &countingSink{}
	if _, _, err := load(t, l.Blob, l.Ann, Options{Sink: sink}); err != nil {
		t.Fatal(err)
	}
	if len(sink.names) != len(ref.Entries) {
		t.Fatalf("sink saw %d entries, the TOC has %d", len(sink.names), len(ref.Entries))
	}
	for i, e := range ref.Entries {
		if sink.names[i] != e.Name {
			t.Fatalf("entry %d: sink saw %q, want %q", i, sink.names[i], e.Name)
		}
	}
	if _, _, err := load(t, l.Blob, l.Ann, Options{Sink: &countingSink{failAt: 3}}); !errors.Is(err, errSinkFull) {
		t.Fatalf("err = %v, want the sink's", err)
	}
}

// Name uniqueness over more names than the key set keeps in memory: the
// repeat is found across spilled runs, named with its entry index, and the
// runs' temp file is gone afterwards (load checks the temp dir).
func TestLoadRepeatedNameAmongManyEntries(t *testing.T) {
	l := rich(t)
	doc := l.tocDoc(t)
	es := doc.entries()
	for i := range keyset.BufferKeys + 1000 {
		es = append(es, map[string]any{"type": "dir", "name": fmt.Sprintf("many/%06d/", i)})
	}
	es = append(es, map[string]any{"type": "dir", "name": "many/000007/"})
	doc["entries"] = es
	err := loadErr(t, l.rebuild(t, doc, l.rawTarSplit(t)), "duplicate entry name", `"many/000007/"`)
	var ee *EntryError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, len(es)-1, ee.Index)
	assert.ErrorIs(t, err, ErrDuplicateName)
}
