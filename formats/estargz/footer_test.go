package estargz

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseFooterReal(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel() // builds the layers the other tests reuse
			l := build(t, v)
			f := l.Blob[len(l.Blob)-FooterSize:]
			off, err := ParseFooter(f)
			if err != nil {
				t.Fatal(err)
			}
			if off != l.TOCOffset {
				t.Errorf("offset %d, reference %d", off, l.TOCOffset)
			}
			// The test helper writes what the real writer writes.
			if !bytes.Equal(footerBytes(off), f) {
				t.Errorf("footerBytes differs from the real footer:\n%q\n%q", footerBytes(off), f)
			}
		})
	}
}

func TestParseFooter(t *testing.T) {
	patch := func(at int, b ...byte) []byte {
		f := footerBytes(0x1234)
		copy(f[at:], b)
		return f
	}
	bad := []struct {
		name   string
		footer []byte
		is     error
		at     int
	}{
		{"empty", nil, ErrFooterLength, 0},
		{"short", footerBytes(1)[:50], ErrFooterLength, 0},
		{"long", append(footerBytes(1), 0), ErrFooterLength, 0},
		{"gzip ID1", patch(0, 0x1e), ErrFooterGzipHeader, 0},
		{"gzip ID2", patch(1, 0x8c), ErrFooterGzipHeader, 0},
		{"not deflate", patch(2, 7), ErrFooterGzipHeader, 0},
		{"FNAME flag too", patch(3, 0x0c), ErrFooterGzipHeader, 0},
		{"no FEXTRA", patch(3, 0), ErrFooterGzipHeader, 0},
		{"XLEN", patch(10, le16(25)...), ErrFooterExtraLength, 10},
		{"XLEN high byte", patch(11, 1), ErrFooterExtraLength, 10},
		{"subfield ID", patch(12, 'S', 'X'), ErrFooterSubfieldID, 12},
		{"subfield LEN", patch(14, le16(21)...), ErrFooterSubfieldLength, 14},
		{"non-hex digit", patch(16, []byte("000000000000000g")...), ErrFooterOffset, 16},
		{"sign", patch(16, []byte("-000000000000001")...), ErrFooterOffset, 16},
		{"plus sign", patch(16, []byte("+000000000000001")...), ErrFooterOffset, 16},
		{"space", patch(16, []byte(" 00000000000001f")...), ErrFooterOffset, 16},
		{"overflows int64", patch(16, []byte("8000000000000000")...), ErrFooterOffset, 16},
		{"magic case", patch(32, []byte("stargz")...), ErrFooterMagic, 32},
		{"magic", patch(32, []byte("STARGY")...), ErrFooterMagic, 32},
		{"deflate block", patch(38, 0x03), ErrFooterBody, 38},
		{"stored length", patch(39, 1), ErrFooterBody, 38},
		{"CRC", patch(43, 1), ErrFooterBody, 43},
		{"ISIZE", patch(50, 1), ErrFooterBody, 43},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			off, err := ParseFooter(c.footer)
			if err == nil {
				t.Fatalf("accepted, offset %d", off)
			}
			var fe *FooterError
			if !errors.As(err, &fe) || !errors.Is(err, c.is) {
				t.Fatalf("want FooterError %v, got %v", c.is, err)
			}
			if fe.Offset != c.at {
				t.Errorf("field offset %d, want %d", fe.Offset, c.at)
			}
			if !strings.Contains(err.Error(), "eStargz footer") || !strings.Contains(err.Error(), c.is.Error()) {
				t.Errorf("message %q", err)
			}
		})
	}
	good := []struct {
		name   string
		footer []byte
		want   int64
	}{
		{"zero", footerBytes(0), 0},
		{"max int64", footerBytes(1<<63 - 1), 1<<63 - 1},
		{"upper-case hex", patch(16, []byte("00000000000ABCDE")...), 0xabcde},
		// MTIME, XFL and OS do not affect the layout.
		{"mtime and OS", patch(4, 1, 2, 3, 4, 2, 3), 0x1234},
	}
	for _, c := range good {
		t.Run(c.name, func(t *testing.T) {
			off, err := ParseFooter(c.footer)
			if err != nil || off != c.want {
				t.Fatalf("got %d, %v; want %d", off, err, c.want)
			}
		})
	}
}
