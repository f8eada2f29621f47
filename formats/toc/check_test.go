package toc

import (
	"strings"
	"testing"
)

func TestCheckNonNegative(t *testing.T) {
	if err := (&Entry{Size: 1, Offset: 2, EndOffset: 3, ChunkSize: 1}).CheckNonNegative(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		e    Entry
		want string
	}{
		{Entry{Size: -1}, "negative size -1"},
		{Entry{Offset: -2}, "negative offset -2"},
		{Entry{EndOffset: -3}, "negative endOffset -3"},
		{Entry{ChunkSize: -4}, "negative chunkSize -4"},
		{Entry{ChunkOffset: -5}, "negative chunkOffset -5"},
		{Entry{Size: -1, ChunkOffset: -5}, "negative size -1"}, // the first one
	} {
		if err := c.e.CheckNonNegative(); err == nil || err.Error() != c.want {
			t.Errorf("%+v: got %v, want %q", c.e, err, c.want)
		}
	}
}

func TestCheckDigests(t *testing.T) {
	if err := (&Entry{Digest: EmptyDigest}).CheckDigests(); err != nil {
		t.Fatal(err)
	}
	if err := (&Entry{}).CheckDigests(); err != nil {
		t.Fatalf("absent digests: %v", err)
	}
	for _, e := range []Entry{{Digest: "sha256:nothex"}, {Digest: EmptyDigest, ChunkDigest: "bogus"}} {
		if err := e.CheckDigests(); err == nil || !strings.Contains(err.Error(), "invalid digest") {
			t.Errorf("%+v: got %v", e, err)
		}
	}
}

func TestOffsetChecker(t *testing.T) {
	c := NewOffsetChecker(100)
	for _, e := range []Entry{{Offset: 10, EndOffset: 20}, {}, {Offset: 20}, {Offset: 99, EndOffset: 100}} {
		if err := c.Check(&e); err != nil {
			t.Fatalf("%+v: %v", e, err)
		}
	}
	for _, tc := range []struct {
		prev, e Entry
		want    string
	}{
		{Entry{}, Entry{Offset: 100}, "offset 100 outside the data section [0, 100)"},
		{Entry{Offset: 50}, Entry{Offset: 50}, "offset 50 does not ascend (previous 50)"},
		{Entry{Offset: 50}, Entry{Offset: 40}, "offset 40 does not ascend (previous 50)"},
		{Entry{}, Entry{Offset: 10, EndOffset: 101}, "endOffset 101 outside [offset 10, 100]"},
		{Entry{}, Entry{Offset: 10, EndOffset: 5}, "endOffset 5 outside [offset 10, 100]"},
	} {
		c := NewOffsetChecker(100)
		if err := c.Check(&tc.prev); err != nil {
			t.Fatal(err)
		}
		if err := c.Check(&tc.e); err == nil || err.Error() != tc.want {
			t.Errorf("%+v after %+v: got %v, want %q", tc.e, tc.prev, err, tc.want)
		}
	}
}
