package estargz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/chunkdiff/chunkdiff/formats"
	"github.com/chunkdiff/chunkdiff/internal/blob"
	"github.com/chunkdiff/chunkdiff/internal/blob/seekable"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	stargz "github.com/containerd/stargz-snapshotter/estargz"
	"github.com/opencontainers/go-digest"
	chunked "go.podman.io/storage/pkg/chunked"
)

type requester interface {
	chunked.ImageSourceSeekable
	Requests() [][]chunked.ImageSourceChunk
}

// loadFrom runs Load and checks that nothing is left in the temp dir,
// success or not (the spool is unlinked), and no metadata with an error.
func loadFrom(t testing.TB, src requester, size int64, d digest.Digest, opts Options) (*Metadata, error) {
	t.Helper()
	if opts.TempDir == "" {
		opts.TempDir = t.TempDir()
	}
	before := openFDs(t)
	m, err := Load(context.Background(), seekable.From(src), size, d, opts)
	after := openFDs(t)
	if err == nil {
		t.Cleanup(func() { m.Close() })
		after-- // the spool
	} else if m != nil {
		t.Fatalf("Load returned metadata with error %v", err)
	}
	// An O_TMPFILE spool never shows in the directory: count descriptors.
	if after != before {
		t.Errorf("%d file descriptors open before Load, %d after (not counting the spool)", before, after)
	}
	if left, _ := os.ReadDir(opts.TempDir); len(left) != 0 {
		t.Errorf("temp dir not empty: %v", left)
	}
	return m, err
}

func openFDs(t testing.TB) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

func load(t testing.TB, blob []byte, d digest.Digest, opts Options, srcOpts ...testutil.SourceOption) (*Metadata, *testutil.Source, error) {
	t.Helper()
	src := testutil.NewSource(blob, srcOpts...)
	m, err := loadFrom(t, src, int64(len(blob)), d, opts)
	return m, src, err
}

// refCounts counts entries of a TOC decoded with encoding/json.
func refCounts(t testing.TB, tocJSON []byte) (Counts, []string) {
	t.Helper()
	var ref struct {
		Entries []struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(tocJSON, &ref); err != nil {
		t.Fatal(err)
	}
	c := Counts{Entries: len(ref.Entries)}
	var names []string
	for _, e := range ref.Entries {
		names = append(names, e.Name)
		switch e.Type {
		case "reg":
			c.Regular++
			if e.Name == stargz.PrefetchLandmark || e.Name == stargz.NoPrefetchLandmark {
				c.Landmarks++
			}
		case "chunk":
			c.Chunks++
		case "dir":
			c.Dirs++
		case "symlink":
			c.Symlinks++
		case "hardlink":
			c.Hardlinks++
		default:
			c.Other++
		}
	}
	return c, names
}

func TestLoadRealBlobs(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			l := build(t, v)
			m, src, err := load(t, l.Blob, l.TOCDigest, Options{})
			if err != nil {
				t.Fatal(err)
			}
			want, names := refCounts(t, l.TOCJSON)
			if m.Counts != want {
				t.Errorf("counts %+v, want %+v", m.Counts, want)
			}
			if want.Landmarks != 1 || want.Other < 3 || want.Hardlinks == 0 || want.Symlinks == 0 || want.Dirs == 0 {
				t.Errorf("tree too poor: %+v", want)
			}
			if v.chunkSize != 0 && want.Chunks == 0 {
				t.Errorf("no chunk entries with %d-byte chunks", v.chunkSize)
			}
			landmark := stargz.NoPrefetchLandmark
			if len(v.prioritized) > 0 {
				landmark = stargz.PrefetchLandmark
			}
			if !strings.Contains(strings.Join(names, "\n"), landmark) {
				t.Errorf("no %s entry", landmark)
			}
			// The TOC digest is the annotation and what the reference
			// reader computes.
			r, err := stargz.Open(io.NewSectionReader(bytes.NewReader(l.Blob), 0, int64(len(l.Blob))))
			if err != nil {
				t.Fatal(err)
			}
			if m.TOCDigest != r.TOCDigest() || m.TOCDigest.String() != l.Annotations[stargz.TOCJSONDigestAnnotation] {
				t.Errorf("TOC digest %s, reference %s, annotation %s", m.TOCDigest, r.TOCDigest(), l.Annotations[stargz.TOCJSONDigestAnnotation])
			}
			size := int64(len(l.Blob))
			wantReqs := [][]chunked.ImageSourceChunk{
				{{Offset: uint64(size - FooterSize), Length: FooterSize}},
				{{Offset: uint64(l.TOCOffset), Length: uint64(size - FooterSize - l.TOCOffset)}},
			}
			if got := src.Requests(); !equalRequests(got, wantReqs) {
				t.Errorf("requests %v, want %v", got, wantReqs)
			}
			if m.TOCOffset != uint64(l.TOCOffset) || m.TOCCompressedSize != uint64(size-FooterSize-l.TOCOffset) ||
				m.TOCUncompressedSize != uint64(len(l.TOCJSON)) || m.UncompressedTarSize != -1 || m.TOCVersion != 1 || m.HasTarSplit() {
				t.Errorf("metadata %+v", m)
			}
			got, _ := io.ReadAll(m.TOCJSON())
			if !bytes.Equal(got, l.TOCJSON) {
				t.Error("TOCJSON differs from the blob's TOC")
			}
			// Two entry streams at once, both complete.
			d1, _ := m.Entries()
			d2, _ := m.Entries()
			for i, name := range names {
				e1, err1 := d1.Next()
				e2, err2 := d2.Next()
				if err1 != nil || err2 != nil || e1.Name != name || e2.Name != name {
					t.Fatalf("entry %d: %v %v", i, err1, err2)
				}
			}
			if _, err := d1.Next(); err != io.EOF {
				t.Fatalf("want EOF, got %v", err)
			}
			skip := m.SkipNames()
			if len(skip) != 3 || !skip[stargz.PrefetchLandmark] || !skip[stargz.NoPrefetchLandmark] || !skip[stargz.TOCTarName] {
				t.Errorf("SkipNames %v", skip)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Entries(); err == nil {
				t.Error("Entries after Close succeeded")
			}
			if b, _ := io.ReadAll(m.TOCJSON()); len(b) != 0 {
				t.Error("TOCJSON after Close is not empty")
			}
		})
	}
}

func equalRequests(a, b [][]chunked.ImageSourceChunk) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

// expectErr expects Load of blob with digest d to fail with every want in the
// message, after at most calls GetBlobAt calls.
func expectErr(t *testing.T, blob []byte, d digest.Digest, opts Options, calls int, wants ...string) error {
	t.Helper()
	_, src, err := load(t, blob, d, opts)
	if err == nil {
		t.Fatal("Load succeeded")
	}
	t.Logf("error: %v", err)
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	if n := len(src.Requests()); n != calls {
		t.Errorf("%d GetBlobAt calls, want %d", n, calls)
	}
	return err
}

func TestLoadBadFooter(t *testing.T) {
	l := rich(t)
	size := int64(len(l.Blob))
	t.Run("blob shorter than the footer", func(t *testing.T) {
		for _, n := range []int{0, 10, FooterSize} {
			err := expectErr(t, l.Blob[len(l.Blob)-n:], l.TOCDigest, Options{}, 0, "not larger than the 51-byte footer")
			var le *formats.LayoutError
			if !errors.As(err, &le) {
				t.Errorf("want LayoutError, got %T", err)
			}
		}
	})
	footerCase := func(name string, f []byte, is error) {
		t.Run(name, func(t *testing.T) {
			err := expectErr(t, l.withFooter(f), l.TOCDigest, Options{}, 1, "eStargz footer", is.Error())
			if !errors.Is(err, is) {
				t.Errorf("not %v: %v", is, err)
			}
		})
	}
	bad := footerBytes(l.TOCOffset)
	copy(bad[20:], "xyz")
	footerCase("non-hex TOC offset", bad, ErrFooterOffset)
	bad = footerBytes(l.TOCOffset)
	bad[1] = 0
	footerCase("bad gzip header", bad, ErrFooterGzipHeader)
	bad = footerBytes(l.TOCOffset)
	copy(bad[32:], "NOTSGZ")
	footerCase("bad magic", bad, ErrFooterMagic)

	layoutCase := func(name string, off int64, want string) {
		t.Run(name, func(t *testing.T) {
			err := expectErr(t, l.withFooter(footerBytes(off)), l.TOCDigest, Options{}, 1, want)
			var le *formats.LayoutError
			if !errors.As(err, &le) {
				t.Errorf("want LayoutError, got %T", err)
			}
		})
	}
	layoutCase("TOC offset beyond the blob", size+100, "beyond the blob")
	layoutCase("TOC offset at the blob end", size, "beyond the blob")
	layoutCase("TOC offset inside the footer", size-20, "inside the footer")
	layoutCase("TOC offset at the footer", size-FooterSize, "inside the footer")
	t.Run("TOC offset too early", func(t *testing.T) {
		// The range then starts with payload, not with the TOC member.
		err := expectErr(t, l.withFooter(footerBytes(l.TOCOffset-1)), l.TOCDigest, Options{}, 2, "eStargz TOC", "gzip")
		var le *formats.LayoutError
		if errors.As(err, &le) {
			t.Errorf("unexpected LayoutError %v", err)
		}
	})
}

func TestLoadLimits(t *testing.T) {
	l := rich(t)
	tocLen := uint64(len(l.Blob)) - FooterSize - uint64(l.TOCOffset)
	t.Run("TOC range over the option", func(t *testing.T) {
		_, src, err := load(t, l.Blob, l.TOCDigest, Options{Limits: formats.Limits{MetadataPolicy: formats.PolicyUpstream, MaxTOCSize: int64(tocLen - 1)}})
		var le *formats.LimitError
		if !errors.As(err, &le) || le.Size != tocLen || le.Limit != tocLen-1 || !strings.Contains(err.Error(), "TOC gzip member size") {
			t.Fatalf("want LimitError, got %v", err)
		}
		// Decided with only the footer request made.
		if reqs := src.Requests(); len(reqs) != 1 || reqs[0][0].Length != FooterSize {
			t.Errorf("requests %v, want only the footer", reqs)
		}
	})
	t.Run("TOC range exactly the option", func(t *testing.T) {
		if _, _, err := load(t, l.Blob, l.TOCDigest, Options{Limits: formats.Limits{MetadataPolicy: formats.PolicyUpstream, MaxTOCSize: int64(max(tocLen, uint64(len(l.TOCJSON))))}}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("TOC range at the option", func(t *testing.T) {
		// A tiny TOC, so the limit applies to the range alone.
		member := tocOnly(t, []byte(`{"version":1,"entries":[]}`))
		d := digestOf([]byte(`{"version":1,"entries":[]}`))
		n := uint64(len(member))
		src := sparseBlob(100, member)
		if _, err := loadFrom(t, src, src.size, d, Options{Limits: formats.Limits{MetadataPolicy: formats.PolicyUpstream, MaxTOCSize: int64(n)}}); err != nil {
			t.Fatalf("range of exactly the limit: %v", err)
		}
		src = sparseBlob(100, member)
		_, err := loadFrom(t, src, src.size, d, Options{Limits: formats.Limits{MetadataPolicy: formats.PolicyUpstream, MaxTOCSize: int64(n - 1)}})
		var le *formats.LimitError
		if !errors.As(err, &le) || le.Size != n {
			t.Fatalf("want LimitError, got %v", err)
		}
		if len(src.Requests()) != 1 {
			t.Errorf("requests %v", src.Requests())
		}
	})
	t.Run("TOC range over the default", func(t *testing.T) {
		// A 200 MiB blob whose footer puts the TOC at 0.
		src := &sparseSource{size: 200 << 20, tail: footerBytes(0)}
		_, err := loadFrom(t, src, src.size, l.TOCDigest, Options{Limits: formats.Limits{MetadataPolicy: formats.PolicyUpstream}})
		var le *formats.LimitError
		if !errors.As(err, &le) || le.Limit != formats.DefaultMaxTOCSize || le.Size != 200<<20-FooterSize {
			t.Fatalf("want LimitError at the default, got %v", err)
		}
		if n := len(src.Requests()); n != 1 {
			t.Errorf("%d requests, want only the footer", n)
		}
	})
	t.Run("TOC tar entry larger than the limit", func(t *testing.T) {
		limit := uint64(len(l.TOCJSON)) - 1
		err := expectErr(t, l.Blob, l.TOCDigest, Options{Limits: formats.Limits{MetadataPolicy: formats.PolicyUpstream, MaxTOCSize: int64(limit)}}, 2, "stargz.index.json tar entry", "over the limit")
		var le *formats.LimitError
		if !errors.Is(err, ErrTOCTooLarge) || errors.As(err, &le) {
			t.Errorf("want ErrTOCTooLarge and no LimitError, got %v", err)
		}
	})
	t.Run("TOC gzip inflating past the limit", func(t *testing.T) {
		// A valid TOC followed, inside the member, by zeros inflating
		// past the limit plus the tar slack.
		limit := uint64(len(l.TOCJSON)) + 4096
		member := gzipTar(t, []tarMember{{stargz.TOCTarName, '0', l.TOCJSON}}, make([]byte, tocTarSlack+8192))
		err := expectErr(t, l.withMember(member), l.TOCDigest, Options{Limits: formats.Limits{MetadataPolicy: formats.PolicyUpstream, MaxTOCSize: int64(limit)}}, 2, "inflates to more than")
		if !errors.Is(err, ErrTOCTooLarge) {
			t.Errorf("not ErrTOCTooLarge: %v", err)
		}
		// The same tail within the slack is accepted (it is end-of-archive
		// padding).
		ok := gzipTar(t, []tarMember{{stargz.TOCTarName, '0', l.TOCJSON}}, make([]byte, 8192))
		if _, _, err := load(t, l.withMember(ok), l.TOCDigest, Options{Limits: formats.Limits{MetadataPolicy: formats.PolicyUpstream, MaxTOCSize: int64(limit)}}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLoadBadTOCMember(t *testing.T) {
	l := rich(t)
	cases := []struct {
		name   string
		member []byte
		is     error
		wants  []string
	}{
		{"not stargz.index.json", gzipTar(t, []tarMember{{"other.json", '0', l.TOCJSON}}, nil), ErrNotTOC, []string{`"other.json"`}},
		{"TOC name with ./", gzipTar(t, []tarMember{{"./" + stargz.TOCTarName, '0', l.TOCJSON}}, nil), ErrNotTOC, []string{`"./stargz.index.json"`}},
		{"TOC not a regular file", gzipTar(t, []tarMember{{stargz.TOCTarName, '5', nil}}, nil), ErrNotTOC, []string{`type '5'`}},
		{"TOC after another entry", gzipTar(t, []tarMember{{"a", '0', []byte("x")}, {stargz.TOCTarName, '0', l.TOCJSON}}, nil), ErrNotTOC, []string{`"a"`}},
		{"empty tar", gzipTar(t, nil, nil), ErrNotTOC, []string{"no tar entry"}},
		{"entry after the TOC", gzipTar(t, []tarMember{{stargz.TOCTarName, '0', l.TOCJSON}, {"b", '0', nil}}, nil), ErrTOCMemberTrailing, []string{`"b"`}},
		{"not gzip", []byte("definitely not a gzip member at all"), nil, []string{"not a gzip stream"}},
		{"garbage after the member", append(tocOnly(t, l.TOCJSON), "junk"...), nil, []string{"TOC"}},
		{"truncated member", tocOnly(t, l.TOCJSON)[:200], nil, []string{"TOC", "unexpected EOF"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := expectErr(t, l.withMember(c.member), l.TOCDigest, Options{}, 2, append(c.wants, "eStargz TOC")...)
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("not %v: %v", c.is, err)
			}
		})
	}
	t.Run("TOC digest mismatch", func(t *testing.T) {
		other := digest.FromString("other")
		err := expectErr(t, l.Blob, other, Options{}, 2, "TOC digest mismatch", other.String(), l.TOCDigest.String())
		var de *formats.DigestError
		if !errors.As(err, &de) || de.Computed != l.TOCDigest.String() {
			t.Errorf("want DigestError, got %v", err)
		}
	})
	t.Run("TOC replaced", func(t *testing.T) {
		// A valid member whose JSON is not the annotated one.
		doc := l.tocDoc(t)
		doc["version"] = 2
		var de *formats.DigestError
		if err := expectErr(t, l.withMember(tocOnly(t, doc.json(t))), l.TOCDigest, Options{}, 2); !errors.As(err, &de) {
			t.Errorf("want DigestError, got %v", err)
		}
	})
	t.Run("sha512 TOC digest", func(t *testing.T) {
		if _, _, err := load(t, l.Blob, digest.SHA512.FromBytes(l.TOCJSON), Options{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unusable TOC digest", func(t *testing.T) {
		for _, d := range []digest.Digest{"", "md5:d41d8cd98f00b204e9800998ecf8427e", "sha256:nothex"} {
			expectErr(t, l.Blob, d, Options{}, 0, "TOC digest")
		}
	})
}

// withTOC is the blob with its TOC replaced by j, and j's digest.
func (l realLayer) withTOC(t testing.TB, j []byte) ([]byte, digest.Digest) {
	return l.withMember(tocOnly(t, j)), digestOf(j)
}

func TestLoadBadEntries(t *testing.T) {
	l := rich(t)
	big := "usr/bin/big"
	cases := []struct {
		name  string
		edit  func(d tocDoc)
		wants []string
		is    error
	}{
		{"innerOffset", func(d tocDoc) { d.entry(t, "etc/config", "reg")["innerOffset"] = 12 }, []string{`"etc/config"`, "innerOffset"}, ErrInnerOffset},
		{"offset past the TOC", func(d tocDoc) { d.entry(t, "etc/config", "reg")["offset"] = l.TOCOffset + 10 }, []string{`"etc/config"`, "outside the data section"}, nil},
		{"offset at the TOC", func(d tocDoc) { d.entry(t, "etc/config", "reg")["offset"] = l.TOCOffset }, []string{"outside the data section"}, nil},
		{"offset past the blob", func(d tocDoc) { d.entry(t, "etc/config", "reg")["offset"] = int64(len(l.Blob)) * 2 }, []string{"outside the data section"}, nil},
		{"negative offset", func(d tocDoc) { d.entry(t, "etc/config", "reg")["offset"] = -5 }, []string{"negative offset"}, nil},
		{"endOffset past the TOC", func(d tocDoc) { d.entry(t, "etc/config", "reg")["endOffset"] = l.TOCOffset + 1 }, []string{"endOffset"}, nil},
		{"offsets not ascending", func(d tocDoc) { d.entry(t, "etc/config", "reg")["offset"] = 1 }, []string{`"etc/config"`, "does not ascend"}, nil},
		{"offset repeated", func(d tocDoc) {
			d.entry(t, big, "chunk")["offset"] = d.entry(t, big, "reg")["offset"]
		}, []string{`"usr/bin/big"`, "does not ascend"}, nil},
		{"chunk without reg", func(d tocDoc) {
			d["entries"] = append([]any{map[string]any{"type": "chunk", "name": "x", "offset": 1}}, d.entries()...)
		}, []string{"entry 0", `does not follow a "reg"`}, nil},
		{"chunk of another file", func(d tocDoc) { d.entry(t, big, "chunk")["name"] = "usr/bin/other" }, []string{"differs from its file"}, nil},
		{"chunkOffset gap", func(d tocDoc) {
			c := d.entry(t, big, "chunk")
			c["chunkOffset"] = c["chunkOffset"].(json.Number) + "0"
		}, []string{"chunkOffset", "sum of the previous chunk sizes"}, nil},
		{"chunk missing at the end", func(d tocDoc) {
			// Drop the big file's last chunk: the others do not cover it.
			es := d.entries()
			last := -1
			for i, e := range es {
				if m := e.(map[string]any); m["name"] == big && m["type"] == "chunk" {
					last = i
				}
			}
			d["entries"] = append(es[:last:last], es[last+1:]...)
		}, []string{`"usr/bin/big"`, "chunks cover"}, nil},
		{"chunk after the last chunk", func(d tocDoc) {
			es := d.entries()
			last := -1
			for i, e := range es {
				if m := e.(map[string]any); m["name"] == big && m["type"] == "chunk" {
					last = i
				}
			}
			// Its last chunk reaches to the end of the file (chunkSize 0).
			delete(es[last].(map[string]any), "chunkSize")
			extra := map[string]any{"type": "chunk", "name": big, "offset": 1 << 40, "chunkOffset": 1}
			d["entries"] = append(es[:last+1:last+1], append([]any{extra}, es[last+1:]...)...)
		}, []string{`"usr/bin/big"`, "after the file's last chunk"}, nil},
		{"chunk overrunning the file", func(d tocDoc) { d.entry(t, big, "chunk")["chunkSize"] = 1 << 30 }, []string{"overruns the file size"}, nil},
		{"chunkSize past the file", func(d tocDoc) { d.entry(t, "etc/config", "reg")["chunkSize"] = 100 }, []string{"exceeds the file size"}, nil},
		{"reg without offset", func(d tocDoc) { delete(d.entry(t, "etc/config", "reg"), "offset") }, []string{"without offset"}, nil},
		{"reg without digest", func(d tocDoc) { delete(d.entry(t, "etc/config", "reg"), "digest") }, []string{"without digest"}, nil},
		{"zeros chunk", func(d tocDoc) { d.entry(t, big, "chunk")["chunkType"] = "zeros" }, []string{`chunkType "zeros"`}, nil},
		{"unknown type", func(d tocDoc) { d.entry(t, "dev/fifo", "fifo")["type"] = "socket" }, []string{`unknown entry type "socket"`}, nil},
		{"bad digest", func(d tocDoc) { d.entry(t, "etc/config", "reg")["digest"] = "sha256:nothex" }, []string{"invalid digest"}, nil},
		{"empty name", func(d tocDoc) { d.entry(t, "etc/", "dir")["name"] = "" }, []string{"empty name"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := l.tocDoc(t)
			c.edit(doc)
			blob, d := l.withTOC(t, doc.json(t))
			err := expectErr(t, blob, d, Options{}, 2, c.wants...)
			var ee *EntryError
			if !errors.As(err, &ee) {
				t.Errorf("want EntryError, got %T", err)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("not %v", c.is)
			}
		})
	}
	t.Run("unchanged re-encoding loads", func(t *testing.T) {
		blob, d := l.withTOC(t, l.tocDoc(t).json(t))
		m, _, err := load(t, blob, d, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := refCounts(t, l.TOCJSON); m.Counts != want {
			t.Errorf("counts %+v, want %+v", m.Counts, want)
		}
	})
	t.Run("trailing JSON data", func(t *testing.T) {
		blob, d := l.withTOC(t, append(bytes.Clone(l.TOCJSON), ` {"entries":[]}`...))
		err := expectErr(t, blob, d, Options{}, 2, "unexpected data after")
		if !errors.Is(err, toc.ErrTrailingData) {
			t.Errorf("not ErrTrailingData: %v", err)
		}
	})
	t.Run("invalid JSON", func(t *testing.T) {
		blob, d := l.withTOC(t, []byte(`{"version":1,"entries":[{"type":"reg",`))
		expectErr(t, blob, d, Options{}, 2, "eStargz TOC", "entry 0")
	})
	t.Run("wrong value type", func(t *testing.T) {
		doc := l.tocDoc(t)
		doc.entry(t, "etc/tiny", "reg")["size"] = "1"
		blob, d := l.withTOC(t, doc.json(t))
		expectErr(t, blob, d, Options{}, 2, `("etc/tiny")`, `key "size"`)
	})
}

func TestLoadSource(t *testing.T) {
	l := rich(t)
	boom := errors.New("boom")
	cases := []struct {
		name  string
		opts  []testutil.SourceOption
		calls int
		check func(t *testing.T, err error)
	}{
		{"refused at the footer", []testutil.SourceOption{testutil.RefuseCall(1)}, 1, is(blob.ErrRangesRefused)},
		{"refused at the TOC", []testutil.SourceOption{testutil.RefuseCall(2)}, 2, is(blob.ErrRangesRefused)},
		{"immediate error", []testutil.SourceOption{testutil.FailWith(boom)}, 1, func(t *testing.T, err error) {
			if !errors.Is(err, boom) || errors.Is(err, blob.ErrRangesRefused) {
				t.Fatalf("got %v", err)
			}
		}},
		{"immediate error at the TOC", []testutil.SourceOption{testutil.OnCall(2, testutil.FailWith(boom))}, 2, is(boom)},
		{"no footer stream", []testutil.SourceOption{testutil.StreamLimit(0)}, 1, is(ErrTooFewStreams)},
		{"no TOC stream", []testutil.SourceOption{testutil.OnCall(2, testutil.StreamLimit(0))}, 2, is(ErrTooFewStreams)},
		{"too many streams at the footer", []testutil.SourceOption{testutil.OnCall(1, testutil.ExtraStreams(2))}, 1, is(ErrTooManyStreams)},
		{"too many streams at the TOC", []testutil.SourceOption{testutil.OnCall(2, testutil.ExtraStreams(1))}, 2, is(ErrTooManyStreams)},
		{"error before the footer stream", []testutil.SourceOption{testutil.ErrorAfter(0, boom)}, 1, is(boom)},
		{"error before the TOC stream", []testutil.SourceOption{testutil.OnCall(2, testutil.ErrorAfter(0, boom))}, 2, is(boom)},
		{"error after the TOC stream", []testutil.SourceOption{testutil.OnCall(2, testutil.ErrorAfter(1, boom))}, 2, is(boom)},
		{"truncated footer", []testutil.SourceOption{testutil.OnCall(1, testutil.TruncateStreams(0, 10))}, 1, is(io.ErrUnexpectedEOF)},
		{"truncated TOC", []testutil.SourceOption{testutil.OnCall(2, testutil.TruncateStreams(0, 10))}, 2, func(t *testing.T, err error) {
			if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "source stream ended after") {
				t.Fatalf("got %v", err)
			}
		}},
		{"truncated TOC by half", []testutil.SourceOption{testutil.OnCall(2, testutil.TruncateStreams(0, 2000))}, 2, is(io.ErrUnexpectedEOF)},
		{"corrupt footer", []testutil.SourceOption{testutil.OnCall(1, testutil.CorruptStreams(0))}, 1, func(t *testing.T, err error) {
			var fe *FooterError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v", err)
			}
		}},
		{"corrupt TOC", []testutil.SourceOption{testutil.OnCall(2, testutil.CorruptStreams(0))}, 2, func(t *testing.T, err error) {
			if !strings.Contains(err.Error(), "eStargz TOC") {
				t.Fatalf("got %v", err)
			}
		}},
		{"lying source", []testutil.SourceOption{testutil.OnCall(2, testutil.Lying(make([]byte, len(l.Blob))))}, 2, func(t *testing.T, err error) {
			if !strings.Contains(err.Error(), "not a gzip stream") {
				t.Fatalf("got %v", err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, src, err := load(t, l.Blob, l.TOCDigest, Options{}, c.opts...)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			t.Logf("error: %v", err)
			c.check(t, err)
			if n := src.Calls(); n != c.calls {
				t.Errorf("%d calls, want %d", n, c.calls)
			}
		})
	}
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		src := testutil.NewSource(l.Blob)
		if _, err := Load(ctx, seekable.From(src), int64(len(l.Blob)), l.TOCDigest, Options{TempDir: t.TempDir()}); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
		if n := src.Calls(); n != 0 {
			t.Errorf("%d calls", n)
		}
	})
	t.Run("bad temp dir", func(t *testing.T) {
		_, _, err := load(t, l.Blob, l.TOCDigest, Options{TempDir: "/nonexistent/dir"})
		if err == nil || !strings.Contains(err.Error(), "spool") {
			t.Fatalf("got %v", err)
		}
	})
}

func is(target error) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Fatalf("want %v, got %v", target, err)
		}
	}
}

// recordingSink keeps the names a Load hands on.
type recordingSink struct{ names []string }

func (s *recordingSink) Add(e *toc.Entry) error {
	s.names = append(s.names, e.Name)
	return nil
}
func (*recordingSink) TempSpace(n uint64) uint64 { return n }

// The sink gets every entry of the layer, in TOC order, during the one
// decoding pass, and none of the entries upstream drops (the landmarks and
// the TOC itself).
func TestSinkSeesTheLayerOnly(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			l := build(t, v)
			sink := &recordingSink{}
			m, _, err := load(t, l.Blob, l.TOCDigest, Options{Sink: sink})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			_, all := refCounts(t, l.TOCJSON)
			var want []string
			for _, n := range all {
				if !m.SkipNames()[n] {
					want = append(want, n)
				}
			}
			if len(want) == len(all) {
				t.Fatal("the TOC has no landmark: the test proves nothing")
			}
			if !slices.Equal(sink.names, want) {
				t.Errorf("sink saw %d entries, want the %d of the layer:\n%q\nwant\n%q", len(sink.names), len(want), sink.names, want)
			}
		})
	}
}

type failingSink struct{ after int }

func (s *failingSink) Add(*toc.Entry) error {
	if s.after--; s.after < 0 {
		return errSinkFull
	}
	return nil
}
func (*failingSink) TempSpace(n uint64) uint64 { return n }

var errSinkFull = errors.New("sink full")

// A sink's error ends the load with that error and nothing left open.
func TestSinkErrorEndsTheLoad(t *testing.T) {
	l := build(t, variants[0])
	_, _, err := load(t, l.Blob, l.TOCDigest, Options{Sink: &failingSink{after: 2}})
	if !errors.Is(err, errSinkFull) {
		t.Fatalf("err = %v, want the sink's", err)
	}
}
