package spool

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenLeavesNothingBehind(t *testing.T) {
	dir := t.TempDir()
	f, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	if _, err := f.WriteString("spooled"); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 7)
	if _, err := f.ReadAt(b, 0); err != nil || string(b) != "spooled" {
		t.Fatalf("read back %q, %v", b, err)
	}
}

func TestOpenDefaultDir(t *testing.T) {
	f, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
}

func TestOpenMissingDir(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("no error")
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestMarkWrites(t *testing.T) {
	full := errors.New("disk full")
	_, err := io.Copy(MarkWrites(failWriter{full}), io.LimitReader(zeros{}, 10))
	var we *WriteError
	if !errors.As(err, &we) || we.Err != full || !errors.Is(err, full) || err.Error() != "disk full" {
		t.Fatalf("got %v", err)
	}
	readErr := errors.New("connection reset")
	_, err = io.Copy(MarkWrites(io.Discard), io.MultiReader(io.LimitReader(zeros{}, 3), errReader{readErr}))
	if errors.As(err, &we) || !errors.Is(err, readErr) {
		t.Fatalf("a read error is marked: %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestCheckFree(t *testing.T) {
	dir := t.TempDir()
	if err := CheckFree(dir, 1); err != nil {
		t.Fatalf("one byte does not fit in %s: %v", dir, err)
	}
	err := CheckFree(dir, 1<<62)
	var ns *NoSpaceError
	if !errors.As(err, &ns) || ns.Dir != dir || ns.Need != 1<<62 || ns.Free == 0 {
		t.Fatalf("want a NoSpaceError naming %s, got %v", dir, err)
	}
	if err := CheckFree(filepath.Join(dir, "missing"), 1); err == nil || errors.As(err, &ns) {
		t.Fatalf("a missing dir: got %v", err)
	}
}
