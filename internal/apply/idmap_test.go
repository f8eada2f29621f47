package apply

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"go.podman.io/storage/pkg/idtools"
	"golang.org/x/sys/unix"
)

var shift = []idtools.IDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}

func TestTransformIDs(t *testing.T) {
	cases := []struct {
		name     string
		opts     Options
		uid, gid int
		wantU    int
		wantG    int
	}{
		{"none", Options{}, 5, 6, 5, 6},
		{"shift", Options{UIDMaps: shift, GIDMaps: shift}, 5, 6, 100005, 100006},
		{"uid only", Options{UIDMaps: shift}, 5, 6, 100005, 6},
		{"chown", Options{ChownOpts: &idtools.IDPair{UID: 1, GID: 2}}, 5, 6, 1, 2},
		// pkg/archive maps ChownOpts container→host too.
		{"chown+shift", Options{ChownOpts: &idtools.IDPair{UID: 1, GID: 2}, UIDMaps: shift, GIDMaps: shift}, 5, 6, 100001, 100002},
	}
	for _, c := range cases {
		e := toc.Entry{Type: toc.TypeReg, Name: "f", UID: c.uid, GID: c.gid}
		got, err := c.opts.Transform(&e)
		if err != nil || got.UID != c.wantU || got.GID != c.wantG {
			t.Errorf("%s: %d:%d, %v; want %d:%d", c.name, got.UID, got.GID, err, c.wantU, c.wantG)
		}
		if e.UID != c.uid {
			t.Errorf("%s: input entry modified", c.name)
		}
	}
}

func TestTransformUnmapped(t *testing.T) {
	opts := Options{UIDMaps: shift, GIDMaps: shift}
	for _, c := range []struct {
		uid, gid int
		kind     string
		id       int
	}{{70000, 0, "uid", 70000}, {0, 65536, "gid", 65536}} {
		_, err := opts.Transform(&toc.Entry{Type: toc.TypeReg, Name: "etc/f", UID: c.uid, GID: c.gid})
		var ue *UnmappedIDError
		if !errors.As(err, &ue) || ue.Kind != c.kind || ue.ID != c.id || ue.Name != "etc/f" {
			t.Fatalf("got %v, want UnmappedIDError %s %d", err, c.kind, c.id)
		}
		if msg := err.Error(); !strings.Contains(msg, `"etc/f"`) || !strings.Contains(msg, c.kind) {
			t.Errorf("message %q does not name the entry and ID", msg)
		}
	}
}

func TestUnmappedOnDisk(t *testing.T) {
	requireRoot(t)
	j := newJail(t)
	r := mustOpen(t, j.dest, Options{UIDMaps: shift, GIDMaps: shift})
	for _, e := range []toc.Entry{
		{Type: toc.TypeDir, Name: "d", UID: 1 << 20},
		{Type: toc.TypeReg, Name: "f", GID: 1 << 20},
		{Type: toc.TypeSymlink, Name: "s", LinkName: "x", UID: 1 << 20},
	} {
		var ue *UnmappedIDError
		if err := applyEntry(r, &e, strings.NewReader("")); !errors.As(err, &ue) {
			t.Errorf("%s: %v, want UnmappedIDError", e.Name, err)
		}
	}
	if entries, _ := os.ReadDir(j.dest); len(entries) != 0 {
		t.Errorf("unmapped entries created %d files", len(entries))
	}
}

func TestMappedOwnership(t *testing.T) {
	requireRoot(t)
	dest := t.TempDir()
	r := mustOpen(t, dest, Options{UIDMaps: shift, GIDMaps: shift})
	must(t, r.Dir(&toc.Entry{Type: toc.TypeDir, Name: "d", Mode: 0o755, UID: 1, GID: 2}))
	writeFile(t, r, &toc.Entry{Type: toc.TypeReg, Name: "d/f", Mode: 0o4755, Size: 1, UID: 3, GID: 4}, "x")
	must(t, r.Symlink(&toc.Entry{Type: toc.TypeSymlink, Name: "d/s", LinkName: "f", UID: 5, GID: 6}))
	must(t, r.Device(&toc.Entry{Type: toc.TypeFifo, Name: "d/p", Mode: 0o600, UID: 7, GID: 8}))
	// Implicit parents belong to the mapped root, like pkg/archive's.
	must(t, r.EmptyFile(&toc.Entry{Type: toc.TypeReg, Name: "implicit/f", Mode: 0o644}))
	var zero time.Time // no mtime check
	wantStat(t, filepath.Join(dest, "d"), unix.S_IFDIR, 0o755, 100001, 100002, zero)
	wantStat(t, filepath.Join(dest, "d/f"), unix.S_IFREG, 0o4755, 100003, 100004, zero)
	wantStat(t, filepath.Join(dest, "d/s"), unix.S_IFLNK, 0, 100005, 100006, zero)
	wantStat(t, filepath.Join(dest, "d/p"), unix.S_IFIFO, 0o600, 100007, 100008, zero)
	wantStat(t, filepath.Join(dest, "implicit"), unix.S_IFDIR, implicitDirMode, 100000, 100000, zero)
}

func TestTransformForceMask(t *testing.T) {
	mask := os.FileMode(0o700) | os.ModeSetgid
	opts := Options{ForceMask: &mask, UIDMaps: shift, GIDMaps: shift}
	xattrs := map[string]string{"user.a": b64("b")}
	cases := []struct {
		in       toc.Entry
		wantType string
		override string // "" = none
	}{
		{toc.Entry{Type: toc.TypeReg, Name: "f", Mode: 0o4755, UID: 1, GID: 2, Size: 9, Xattrs: xattrs}, toc.TypeReg, "100001:100002:4755:file"},
		{toc.Entry{Type: toc.TypeDir, Name: "d", Mode: 0o1777}, toc.TypeDir, "100000:100000:1777:dir"},
		{toc.Entry{Type: toc.TypeChar, Name: "c", Mode: 0o666, DevMajor: 1, DevMinor: 3}, toc.TypeReg, "100000:100000:0666:char-1-3"},
		{toc.Entry{Type: toc.TypeBlock, Name: "b", Mode: 0o660, DevMajor: 8, DevMinor: 1}, toc.TypeReg, "100000:100000:0660:block-8-1"},
		{toc.Entry{Type: toc.TypeFifo, Name: "p", Mode: 0o640}, toc.TypeReg, "100000:100000:0640:pipe"},
		{toc.Entry{Type: toc.TypeSymlink, Name: "s", LinkName: "x", Mode: 0o777}, toc.TypeSymlink, ""},
		{toc.Entry{Type: toc.TypeHardlink, Name: "h", LinkName: "f", Mode: 0o644}, toc.TypeHardlink, ""},
	}
	for _, c := range cases {
		got, err := opts.Transform(&c.in)
		if err != nil {
			t.Fatal(err)
		}
		if got.Type != c.wantType || got.Mode != 0o2700 {
			t.Errorf("%s: type %s mode %#o, want %s 0o2700", c.in.Name, got.Type, got.Mode, c.wantType)
		}
		if c.wantType == toc.TypeReg && got.Size != 0 && c.in.Type != toc.TypeReg {
			t.Errorf("%s: size %d", c.in.Name, got.Size)
		}
		v, ok := got.Xattrs[OverrideStatXattr]
		raw, _ := base64.StdEncoding.DecodeString(v)
		if ok != (c.override != "") || string(raw) != c.override {
			t.Errorf("%s: override %q (present %v), want %q", c.in.Name, raw, ok, c.override)
		}
	}
	if len(xattrs) != 1 {
		t.Error("Transform modified the caller's xattr map")
	}
}

// Without a root entry, ForceMask records dest's own state (upstream's
// chunked differ does the same at the start).
func TestForceMaskRootWithoutEntry(t *testing.T) {
	requireRoot(t)
	dest := t.TempDir()
	must(t, os.Chmod(dest, 0o751))
	must(t, os.Chown(dest, 11, 12))
	mask := os.FileMode(0o700)
	r := mustOpen(t, dest, Options{ForceMask: &mask})
	wantXattr(t, dest, OverrideStatXattr, "11:12:0751:dir")
	// ForceMask does not chown (pkg/archive), and devices become files.
	must(t, r.Device(&toc.Entry{Type: toc.TypeChar, Name: "c", Mode: 0o666, UID: 5, DevMajor: 1, DevMinor: 3}))
	wantStat(t, filepath.Join(dest, "c"), unix.S_IFREG, 0o700, 0, 0, time.Time{})
	wantXattr(t, filepath.Join(dest, "c"), OverrideStatXattr, "5:0:0666:char-1-3")
}
