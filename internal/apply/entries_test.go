package apply

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"golang.org/x/sys/unix"
)

var (
	t0 = time.Date(2023, 5, 6, 7, 8, 9, 123456789, time.UTC)
	t1 = t0.Add(time.Hour)
	t2 = t0.Add(2 * time.Hour)
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func lstat(tb testing.TB, p string) *unix.Stat_t {
	tb.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		tb.Fatal(err)
	}
	return &st
}

func wantStat(tb testing.TB, p string, ifmt, perm uint32, uid, gid int, mtime time.Time) *unix.Stat_t {
	tb.Helper()
	st := lstat(tb, p)
	if st.Mode&unix.S_IFMT != ifmt {
		tb.Errorf("%s: type %#o, want %#o", p, st.Mode&unix.S_IFMT, ifmt)
	}
	if ifmt != unix.S_IFLNK && st.Mode&0o7777 != perm {
		tb.Errorf("%s: mode %#o, want %#o", p, st.Mode&0o7777, perm)
	}
	if int(st.Uid) != uid || int(st.Gid) != gid {
		tb.Errorf("%s: owner %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
	}
	if got := time.Unix(st.Mtim.Unix()).UTC(); !mtime.IsZero() && !got.Equal(mtime) {
		tb.Errorf("%s: mtime %v, want %v", p, got, mtime)
	}
	return st
}

func wantXattr(tb testing.TB, p, name, want string) {
	tb.Helper()
	buf := make([]byte, 64<<10)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		tb.Errorf("%s: getxattr %s: %v", p, name, err)
		return
	}
	if !bytes.Equal(buf[:n], []byte(want)) {
		tb.Errorf("%s: xattr %s = %q, want %q", p, name, buf[:n], want)
	}
}

func mustOpen(tb testing.TB, dest string, opts Options) *Root {
	tb.Helper()
	r, err := Open(dest, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = r.Close() })
	return r
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func writeFile(tb testing.TB, r *Root, e *toc.Entry, data string) {
	tb.Helper()
	f, err := r.CreateFile(e)
	must(tb, err)
	if _, err := f.WriteString(data); err != nil {
		tb.Fatal(err)
	}
	must(tb, r.FinishFile(e, f))
}

func TestRootEntry(t *testing.T) {
	requireRoot(t)
	dest := t.TempDir()
	r := mustOpen(t, dest, Options{})
	if r.RootDirMode() != nil {
		t.Fatal("RootDirMode set before a root entry")
	}
	must(t, r.Dir(&toc.Entry{Type: toc.TypeDir, Name: "./", Mode: 0o1750, UID: 7, GID: 8, ModTime: t0,
		Xattrs: map[string]string{"user.root": b64("r\x00")}}))
	writeFile(t, r, &toc.Entry{Type: toc.TypeReg, Name: "child", Mode: 0o644, Size: 1, ModTime: t1}, "c")
	must(t, r.FinishDirs())
	wantStat(t, dest, unix.S_IFDIR, 0o1750, 7, 8, t0)
	wantXattr(t, dest, "user.root", "r\x00")
	if m := r.RootDirMode(); m == nil || *m != os.ModeDir|os.ModeSticky|0o750 {
		t.Errorf("RootDirMode = %v, want %v", m, os.ModeDir|os.ModeSticky|0o750)
	}
	for _, name := range []string{"/", "."} {
		err := r.EmptyFile(&toc.Entry{Type: toc.TypeReg, Name: name})
		if !isInsecure(err) {
			t.Errorf("regular file at root %q: %v, want InsecurePathError", name, err)
		}
	}
}

func TestDirTimesSurviveChildren(t *testing.T) {
	requireRoot(t)
	dest := t.TempDir()
	r := mustOpen(t, dest, Options{})
	must(t, r.Dir(&toc.Entry{Type: toc.TypeDir, Name: "a/", Mode: 0o1777, UID: 12, GID: 34, ModTime: t0,
		Xattrs: map[string]string{"user.bin": b64("\x00\x01\xff")}}))
	must(t, r.Dir(&toc.Entry{Type: toc.TypeDir, Name: "a/b", Mode: 0o700, ModTime: t1}))
	// Children created after their directories: each bumps the parent's mtime.
	writeFile(t, r, &toc.Entry{Type: toc.TypeReg, Name: "a/b/f", Mode: 0o644, Size: 1, ModTime: t2}, "x")
	must(t, r.Symlink(&toc.Entry{Type: toc.TypeSymlink, Name: "a/l", LinkName: "b", ModTime: t2}))
	must(t, r.FinishDirs())
	wantStat(t, filepath.Join(dest, "a"), unix.S_IFDIR, 0o1777, 12, 34, t0)
	wantStat(t, filepath.Join(dest, "a/b"), unix.S_IFDIR, 0o700, 0, 0, t1)
	wantXattr(t, filepath.Join(dest, "a"), "user.bin", "\x00\x01\xff")
}

func TestDirExisting(t *testing.T) {
	requireRoot(t)
	dest := t.TempDir()
	r := mustOpen(t, dest, Options{})
	must(t, r.Dir(&toc.Entry{Type: toc.TypeDir, Name: "d", Mode: 0o700, ModTime: t0}))
	// A second entry for the same dir is a merge: its attributes win.
	must(t, r.Dir(&toc.Entry{Type: toc.TypeDir, Name: "./d/", Mode: 0o751, UID: 3, GID: 4, ModTime: t1}))
	must(t, r.FinishDirs())
	wantStat(t, filepath.Join(dest, "d"), unix.S_IFDIR, 0o751, 3, 4, t1)
}

func TestImplicitParents(t *testing.T) {
	requireRoot(t)
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dest := t.TempDir()
	r := mustOpen(t, dest, Options{})
	writeFile(t, r, &toc.Entry{Type: toc.TypeReg, Name: "x/y/z", Mode: 0o644, Size: 1, ModTime: t0}, "z")
	for _, d := range []string{"x", "x/y"} {
		wantStat(t, filepath.Join(dest, d), unix.S_IFDIR, implicitDirMode, 0, 0, time.Time{})
	}
}

func TestRegularFile(t *testing.T) {
	requireRoot(t)
	dest := t.TempDir()
	r := mustOpen(t, dest, Options{})
	e := &toc.Entry{Type: toc.TypeReg, Name: "/usr/bin/su", Mode: 0o4755, Size: 5, UID: 1000, GID: 1001,
		ModTime: t0, AccessTime: t1, Xattrs: map[string]string{
			"user.bin":   b64("\x00\xfe\xff\x00"),
			"user.empty": "",
		}}
	writeFile(t, r, e, "hello")
	p := filepath.Join(dest, "usr/bin/su")
	st := wantStat(t, p, unix.S_IFREG, 0o4755, 1000, 1001, t0)
	if got := time.Unix(st.Atim.Unix()).UTC(); !got.Equal(t1) {
		t.Errorf("atime %v, want %v", got, t1)
	}
	wantXattr(t, p, "user.bin", "\x00\xfe\xff\x00")
	wantXattr(t, p, "user.empty", "")
	if b, _ := os.ReadFile(p); string(b) != "hello" {
		t.Errorf("content %q", b)
	}

	// setgid on an empty file, and an access time before mtime clamps to it.
	must(t, r.EmptyFile(&toc.Entry{Type: toc.TypeReg, Name: "usr/bin/sg", Mode: 0o2711, GID: 50, ModTime: t1, AccessTime: t0}))
	st = wantStat(t, filepath.Join(dest, "usr/bin/sg"), unix.S_IFREG, 0o2711, 0, 50, t1)
	if got := time.Unix(st.Atim.Unix()).UTC(); !got.Equal(t1) {
		t.Errorf("atime %v, want %v (clamped to mtime)", got, t1)
	}
	if st.Size != 0 {
		t.Errorf("size %d", st.Size)
	}
}

func TestSymlink(t *testing.T) {
	requireRoot(t)
	dest := t.TempDir()
	r := mustOpen(t, dest, Options{})
	for _, target := range []string{"/etc/passwd", "../../../outside", "rel"} {
		name := "l-" + filepath.Base(target)
		must(t, r.Symlink(&toc.Entry{Type: toc.TypeSymlink, Name: name, LinkName: target, UID: 9, GID: 10, ModTime: t0,
			Xattrs: map[string]string{"trusted.t": b64("v\x00")}}))
		p := filepath.Join(dest, name)
		wantStat(t, p, unix.S_IFLNK, 0, 9, 10, t0)
		if got, _ := os.Readlink(p); got != target {
			t.Errorf("%s -> %q, want %q", name, got, target)
		}
		wantXattr(t, p, "trusted.t", "v\x00")
	}
	// user.* xattrs cannot live on symlinks: skipped, not fatal.
	must(t, r.Symlink(&toc.Entry{Type: toc.TypeSymlink, Name: "u", LinkName: "x", Xattrs: map[string]string{"user.a": b64("b")}}))
}

func TestDevices(t *testing.T) {
	requireRoot(t)
	dest := t.TempDir()
	r := mustOpen(t, dest, Options{})
	must(t, r.Device(&toc.Entry{Type: toc.TypeChar, Name: "dev/null", Mode: 0o666, DevMajor: 1, DevMinor: 3, UID: 2, GID: 3, ModTime: t0}))
	must(t, r.Device(&toc.Entry{Type: toc.TypeBlock, Name: "dev/loop7", Mode: 0o660, DevMajor: 7, DevMinor: 7, GID: 6, ModTime: t1}))
	must(t, r.Device(&toc.Entry{Type: toc.TypeFifo, Name: "dev/fifo", Mode: 0o4640, UID: 33, GID: 33, ModTime: t2,
		Xattrs: map[string]string{"trusted.f": b64("fifo")}}))
	st := wantStat(t, filepath.Join(dest, "dev/null"), unix.S_IFCHR, 0o666, 2, 3, t0)
	if unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		t.Errorf("dev/null rdev %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	st = wantStat(t, filepath.Join(dest, "dev/loop7"), unix.S_IFBLK, 0o660, 0, 6, t1)
	if unix.Major(st.Rdev) != 7 || unix.Minor(st.Rdev) != 7 {
		t.Errorf("dev/loop7 rdev %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	wantStat(t, filepath.Join(dest, "dev/fifo"), unix.S_IFIFO, 0o4640, 33, 33, t2)
	wantXattr(t, filepath.Join(dest, "dev/fifo"), "trusted.f", "fifo")
	if err := r.Device(&toc.Entry{Type: toc.TypeFifo, Name: "dev/fifo"}); !isConflict(err) {
		t.Errorf("duplicate fifo: %v, want ConflictError", err)
	}
}

func TestHardlink(t *testing.T) {
	requireRoot(t)
	dest := t.TempDir()
	r := mustOpen(t, dest, Options{})
	writeFile(t, r, &toc.Entry{Type: toc.TypeReg, Name: "a/f", Mode: 0o644, Size: 2, ModTime: t0}, "hi")
	must(t, r.Symlink(&toc.Entry{Type: toc.TypeSymlink, Name: "a/sym", LinkName: "/nowhere", ModTime: t0}))
	// The hardlink entry's attributes go to the shared inode, like upstream.
	must(t, r.Hardlink(&toc.Entry{Type: toc.TypeHardlink, Name: "b/h", LinkName: "/a/f", Mode: 0o4750, UID: 5, GID: 6, ModTime: t1,
		Xattrs: map[string]string{"user.h": b64("1")}}))
	// A link to a symlink links the symlink itself.
	must(t, r.Hardlink(&toc.Entry{Type: toc.TypeHardlink, Name: "b/hsym", LinkName: "a/sym", ModTime: t2}))
	st := wantStat(t, filepath.Join(dest, "b/h"), unix.S_IFREG, 0o4750, 5, 6, t1)
	orig := lstat(t, filepath.Join(dest, "a/f"))
	if st.Ino != orig.Ino || st.Nlink != 2 {
		t.Errorf("b/h ino %d nlink %d; a/f ino %d", st.Ino, st.Nlink, orig.Ino)
	}
	wantXattr(t, filepath.Join(dest, "a/f"), "user.h", "1")
	ls := wantStat(t, filepath.Join(dest, "b/hsym"), unix.S_IFLNK, 0, 0, 0, t2)
	if ls.Ino != lstat(t, filepath.Join(dest, "a/sym")).Ino {
		t.Error("b/hsym is not the same inode as a/sym")
	}
	// An existing non-directory is never replaced (upstream replaces it).
	writeFile(t, r, &toc.Entry{Type: toc.TypeReg, Name: "c", Mode: 0o600, Size: 3, ModTime: t0}, "old")
	if err := r.Hardlink(&toc.Entry{Type: toc.TypeHardlink, Name: "c", LinkName: "a/f", Mode: 0o644, ModTime: t0}); !errors.Is(err, ErrConflict) {
		t.Errorf("hard link over an existing file: %v, want ErrConflict", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "c")); string(b) != "old" {
		t.Errorf("c = %q after a refused link", b)
	}
	if err := r.Hardlink(&toc.Entry{Type: toc.TypeHardlink, Name: "missing", LinkName: "nope"}); err == nil {
		t.Error("link to a missing target succeeded")
	}
}

func TestOpenForRead(t *testing.T) {
	requireRoot(t)
	dest := t.TempDir()
	r := mustOpen(t, dest, Options{})
	writeFile(t, r, &toc.Entry{Type: toc.TypeReg, Name: "d/f", Mode: 0o000, Size: 4, ModTime: t0}, "data")
	must(t, r.Symlink(&toc.Entry{Type: toc.TypeSymlink, Name: "s", LinkName: "d/f"}))
	must(t, r.Symlink(&toc.Entry{Type: toc.TypeSymlink, Name: "sd", LinkName: "d"}))
	must(t, r.Device(&toc.Entry{Type: toc.TypeFifo, Name: "p", Mode: 0o644}))
	f, err := r.OpenForRead("./d/f")
	must(t, err)
	b := make([]byte, 10)
	n, _ := f.Read(b)
	_ = f.Close()
	if string(b[:n]) != "data" {
		t.Errorf("read %q", b[:n])
	}
	for _, name := range []string{"s", "sd/f"} {
		if _, err := r.OpenForRead(name); !isInsecure(err) {
			t.Errorf("OpenForRead(%q): %v, want InsecurePathError", name, err)
		}
	}
	for _, name := range []string{"p", "d", "/"} {
		if _, err := r.OpenForRead(name); !isConflict(err) {
			t.Errorf("OpenForRead(%q): %v, want ConflictError", name, err)
		}
	}
}

func TestWrongType(t *testing.T) {
	dest := t.TempDir()
	r := mustOpen(t, dest, Options{})
	if err := r.Dir(&toc.Entry{Type: toc.TypeReg, Name: "x"}); err == nil {
		t.Error("Dir accepted a reg entry")
	}
	if _, err := r.CreateFile(&toc.Entry{Type: toc.TypeSymlink, Name: "x"}); err == nil {
		t.Error("CreateFile accepted a symlink entry")
	}
}
