package zstdchunked

import (
	"errors"
	"os"
	"strings"
	"testing"
)

const goodDigest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func TestParseAnnotationsReal(t *testing.T) {
	l := rich(t)
	a, err := ParseAnnotations(l.Annotations)
	if err != nil {
		t.Fatal(err)
	}
	if a.TOCDigest != l.TOCDigest || !a.HasTarSplitPosition() || a.TOC.Length == 0 {
		t.Fatalf("%+v", a)
	}
	if got := annotationsMap(a); got[AnnotationTOCPosition] != l.Annotations[AnnotationTOCPosition] || got[AnnotationTarSplitPosition] != l.Annotations[AnnotationTarSplitPosition] {
		t.Fatalf("round trip: %v vs %v", got, l.Annotations)
	}
}

func TestParseAnnotationsErrors(t *testing.T) {
	pos := func(p string) map[string]string {
		return map[string]string{AnnotationTOCDigest: goodDigest, AnnotationTOCPosition: p}
	}
	ts := func(p string) map[string]string {
		m := pos("100:20:30:1")
		m[AnnotationTarSplitPosition] = p
		return m
	}
	cases := []struct {
		name string
		ann  map[string]string
		key  string
		want string
	}{
		{"missing position", map[string]string{AnnotationTOCDigest: goodDigest}, AnnotationTOCPosition, "missing"},
		{"bad digest", map[string]string{AnnotationTOCDigest: "sha256:abc", AnnotationTOCPosition: "1:2:3:1"}, AnnotationTOCDigest, "invalid"},
		{"missing field", pos("1:2:1"), AnnotationTOCPosition, "want 4"},
		{"empty field", pos("1::3:1"), AnnotationTOCPosition, "field 2"},
		{"non-numeric", pos("1:x:3:1"), AnnotationTOCPosition, `field 2 ("x")`},
		{"negative", pos("-1:2:3:1"), AnnotationTOCPosition, `field 1 ("-1")`},
		{"plus sign", pos("+1:2:3:1"), AnnotationTOCPosition, `field 1`},
		{"leading space", pos(" 1:2:3:1"), AnnotationTOCPosition, `field 1`},
		{"type 2", pos("1:2:3:2"), AnnotationTOCPosition, "manifest type 2"},
		{"trailing garbage", pos("10:20:30:1xyz"), AnnotationTOCPosition, `field 4`},
		{"extra field", pos("10:20:30:1:5"), AnnotationTOCPosition, "want 4"},
		{"overflow", pos("18446744073709551616:1:1:1"), AnnotationTOCPosition, "out of range"},
		{"tar-split missing field", ts("1:2"), AnnotationTarSplitPosition, "want 3"},
		{"tar-split garbage", ts("1:2:3 "), AnnotationTarSplitPosition, `field 3`},
		{"tar-split negative", ts("1:-2:3"), AnnotationTarSplitPosition, `field 2`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseAnnotations(c.ann)
			var ae *AnnotationError
			if !errors.As(err, &ae) {
				t.Fatalf("want *AnnotationError, got %v", err)
			}
			if ae.Key != c.key || !strings.Contains(err.Error(), c.key) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q: want key %s and %q", err, c.key, c.want)
			}
			if v := c.ann[c.key]; v != "" && !strings.Contains(err.Error(), v) {
				t.Fatalf("error %q does not quote the value %q", err, v)
			}
		})
	}
	t.Run("absent", func(t *testing.T) {
		if _, err := ParseAnnotations(map[string]string{"other": "x"}); !errors.Is(err, ErrNotZstdChunked) {
			t.Fatalf("want ErrNotZstdChunked, got %v", err)
		}
	})
	t.Run("tar-split offset 0 is absent", func(t *testing.T) {
		a, err := ParseAnnotations(ts("0:5:6"))
		if err != nil || a.HasTarSplitPosition() {
			t.Fatalf("%+v %v", a, err)
		}
	})
}

func FuzzParseAnnotations(f *testing.F) {
	if b, err := os.ReadFile("testdata/rich-tree.annotations"); err == nil {
		if v := strings.Split(string(b), "\n"); len(v) >= 3 {
			f.Add(v[0], v[1], v[2]) // from an upstream-written blob
		}
	}
	f.Add(goodDigest, "10:20:30:1xyz", "0:0:0")
	f.Add("sha512:00", "1:2:3:1", "")
	f.Fuzz(func(t *testing.T, d, p, ts string) {
		m := map[string]string{AnnotationTOCDigest: d, AnnotationTOCPosition: p}
		if ts != "" {
			m[AnnotationTarSplitPosition] = ts
		}
		a, err := ParseAnnotations(m)
		if err != nil {
			var ae *AnnotationError
			if !errors.As(err, &ae) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// Whatever parses renders back to the same strings (the parser
		// accepts exactly canonical decimal, modulo leading zeros).
		if err := a.TOCDigest.Validate(); err != nil {
			t.Fatal(err)
		}
		if _, err := ParseAnnotations(annotationsMap(a)); err != nil {
			t.Fatalf("re-rendered annotations do not parse: %v", err)
		}
	})
}
