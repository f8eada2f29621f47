package apply

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"golang.org/x/sys/unix"
)

// layerOneTool writes layer 1's bin/tool (0755 root, an xattr, time t0)
// in a directory of its own and returns it open, as the reuse planner
// holds it.
func layerOneTool(t *testing.T) (string, *os.File) {
	t.Helper()
	l1 := t.TempDir()
	r1 := mustOpen(t, l1, Options{})
	writeFile(t, r1, &toc.Entry{Type: toc.TypeReg, Name: "bin/tool", Mode: 0o755, Size: 4, ModTime: t0,
		Xattrs: map[string]string{"user.one": b64("1")}}, "tool")
	src, err := os.Open(filepath.Join(l1, "bin/tool"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return filepath.Join(l1, "bin/tool"), src
}

// inodeState is what another layer could change on an inode.
type inodeState struct {
	mode, uid, gid uint32
	mtime          unix.Timespec
	xattrs         map[string]string
	content        string
}

func stateOf(t *testing.T, p string) inodeState {
	t.Helper()
	st := lstat(t, p)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	xs, err := fileXattrs(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for k, v := range xs {
		m[k] = string(v)
	}
	return inodeState{mode: st.Mode, uid: st.Uid, gid: st.Gid, mtime: st.Mtim, xattrs: m, content: string(b)}
}

// Layer 2 reuses layer 1's bin/tool by hard link, then a hard-link entry to
// it asks for other attributes: layer 1's inode must stay as it was, and
// layer 2's names get the attributes on an inode of their own.
func TestHardlinkNeverChangesAReusedInode(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name string
		link toc.Entry
	}{
		{"setuid and owner", toc.Entry{Mode: 0o4777, UID: 1234, GID: 1234, ModTime: t0, Xattrs: map[string]string{"user.one": b64("1")}}},
		{"new xattr only", toc.Entry{Mode: 0o755, ModTime: t0, Xattrs: map[string]string{"user.one": b64("1"), "user.two": b64("2")}}},
		{"new mtime only", toc.Entry{Mode: 0o755, ModTime: t2, Xattrs: map[string]string{"user.one": b64("1")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			toolPath, src := layerOneTool(t)
			before := stateOf(t, toolPath)
			l2 := t.TempDir()
			r2 := mustOpen(t, l2, Options{})
			f := &toc.Entry{Type: toc.TypeReg, Name: "usr/bin/tool", Mode: 0o755, Size: 4, ModTime: t0, Xattrs: map[string]string{"user.one": b64("1")}}
			must(t, r2.LinkFile(f, src))
			if lstat(t, filepath.Join(l2, "usr/bin/tool")).Ino != lstat(t, toolPath).Ino {
				t.Fatal("setup: not linked")
			}
			h := tc.link
			h.Type, h.Name, h.LinkName = toc.TypeHardlink, "usr/bin/alias", "usr/bin/tool"
			must(t, r2.Hardlink(&h))

			if after := stateOf(t, toolPath); !equalState(before, after) {
				t.Errorf("layer 1's inode changed:\nbefore %+v\nafter  %+v", before, after)
			}
			if st := lstat(t, toolPath); st.Nlink != 1 {
				t.Errorf("layer 1's inode has %d links, want 1 (the link was broken)", st.Nlink)
			}
			a, b := lstat(t, filepath.Join(l2, "usr/bin/tool")), lstat(t, filepath.Join(l2, "usr/bin/alias"))
			if a.Ino != b.Ino || a.Ino == lstat(t, toolPath).Ino {
				t.Errorf("layer 2's names: inodes %d and %d, layer 1's %d; want one private inode", a.Ino, b.Ino, lstat(t, toolPath).Ino)
			}
			wantStat(t, filepath.Join(l2, "usr/bin/alias"), unix.S_IFREG, uint32(h.Mode), h.UID, h.GID, h.ModTime)
			if got := stateOf(t, filepath.Join(l2, "usr/bin/alias")); got.content != "tool" || len(got.xattrs) != len(h.Xattrs) {
				t.Errorf("layer 2's copy: %+v", got)
			}
		})
	}
}

// Even if a caller forgets to break the link, no attribute reaches a
// foreign inode: the guard refuses with a typed error.
func TestForeignInodeGuard(t *testing.T) {
	requireRoot(t)
	toolPath, src := layerOneTool(t)
	before := stateOf(t, toolPath)
	l2 := t.TempDir()
	r2 := mustOpen(t, l2, Options{})
	f := &toc.Entry{Type: toc.TypeReg, Name: "tool", Mode: 0o755, Size: 4, ModTime: t0}
	must(t, r2.LinkFile(f, src))
	fd, err := unix.Open(filepath.Join(l2, "tool"), unix.O_PATH|unix.O_NOFOLLOW, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	a := attrs{name: "tool", chown: true, uid: 1234, gid: 1234, mode: 0o4777, times: timespecs(t2, t2)}
	if err := r2.apply(node{kind: nodePath, fd: fd}, &a, false); !errors.Is(err, ErrForeignInode) {
		t.Fatalf("apply on a foreign inode: %v, want ErrForeignInode", err)
	}
	if after := stateOf(t, toolPath); !equalState(before, after) {
		t.Errorf("layer 1's inode changed: %+v -> %+v", before, after)
	}
}

func equalState(a, b inodeState) bool {
	if a.mode != b.mode || a.uid != b.uid || a.gid != b.gid || a.mtime != b.mtime || a.content != b.content || len(a.xattrs) != len(b.xattrs) {
		return false
	}
	for k, v := range a.xattrs {
		if b.xattrs[k] != v {
			return false
		}
	}
	return true
}

func TestNames(t *testing.T) {
	add := func(n *Names, typ, name, link string) error {
		return n.Add(&toc.Entry{Type: typ, Name: name, LinkName: link})
	}
	n := NewNames(t.TempDir())
	defer n.Close()
	must(t, add(n, toc.TypeDir, "./", ""))
	must(t, add(n, toc.TypeDir, "d/", ""))
	must(t, add(n, toc.TypeReg, "d/f", ""))
	must(t, add(n, toc.TypeHardlink, "/d/h", "./d/f"))
	for _, bad := range []struct {
		typ, name, link string
		want            error
	}{
		{toc.TypeReg, "/d/f", "", ErrDuplicateEntry},
		{toc.TypeSymlink, "./d/h", "/etc/passwd", ErrDuplicateEntry},
		{toc.TypeDir, "./d", "", ErrDuplicateEntry},
		{toc.TypeDir, "/", "", ErrDuplicateEntry},
		{toc.TypeHardlink, "x", "later", ErrLinkOrder},
		{toc.TypeHardlink, "y", "d", ErrConflict},
		{toc.TypeHardlink, "z", "../../etc/passwd", ErrInsecurePath},
		{toc.TypeReg, "../escape", "", ErrInsecurePath},
	} {
		if err := add(n, bad.typ, bad.name, bad.link); !errors.Is(err, bad.want) {
			t.Errorf("%s %q -> %q: %v, want %v", bad.typ, bad.name, bad.link, err, bad.want)
		}
	}
}
