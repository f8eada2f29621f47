//go:build linux

package apply

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// A layer owns only the inodes it created. LinkFile brings in inodes of
// other layers (content reuse by hard link); those are foreign: no
// attribute of theirs may ever be changed through this root, or applying
// one layer would change another (upstream v1.65.1 chmods and chowns the
// shared inode when a hard-link entry names it).

// inodeKey identifies an inode on the host.
type inodeKey struct{ dev, ino uint64 }

func keyOf(st *unix.Stat_t) inodeKey { return inodeKey{dev: st.Dev, ino: st.Ino} }

// markForeign records src's inode as not ours.
func (r *Root) markForeign(fd int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	r.mu.Lock()
	r.foreign[keyOf(&st)] = struct{}{}
	r.mu.Unlock()
	return nil
}

func (r *Root) isForeign(st *unix.Stat_t) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.foreign[keyOf(st)]
	return ok
}

// guardOwned fails if n (an fd-addressed inode) is foreign. Symlinks are
// never reused, so nodeLink needs no check.
func (r *Root) guardOwned(n node, name string) error {
	if n.kind == nodeLink {
		return nil
	}
	r.mu.Lock()
	none := len(r.foreign) == 0
	r.mu.Unlock()
	if none {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(n.fd, &st); err != nil {
		return entryErr(name, "fstat", err)
	}
	if r.isForeign(&st) {
		return &ForeignInodeError{Name: name}
	}
	return nil
}

// own replaces base (in dir fd parent, a foreign regular file) with a
// private copy carrying the same content and attributes, so the layer can
// change it: a reflink where the filesystem allows, else a copy.
func (r *Root) own(parent int, base, name string, st *unix.Stat_t) error {
	sfd, err := unix.Openat(parent, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return entryErr(name, "open (to break a shared link)", err)
	}
	src := os.NewFile(uintptr(sfd), name)
	defer func() { _ = src.Close() }()
	tmp := ".chunkdiff-own-" + strconv.FormatUint(st.Ino, 36)
	dfd, err := unix.Openat(parent, tmp, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return entryErr(name, "create (to break a shared link)", err)
	}
	dst := os.NewFile(uintptr(dfd), tmp)
	err = r.copyInode(dst, src, st)
	if cerr := dst.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(parent, tmp, parent, base)
	}
	if err != nil {
		_ = unix.Unlinkat(parent, tmp, 0)
		return entryErr(name, "breaking a link shared with another layer", err)
	}
	return nil
}

// copyInode gives dst src's content, owner, xattrs, times and mode.
func (r *Root) copyInode(dst, src *os.File, st *unix.Stat_t) error {
	if _, err := CopyContent(dst, src); err != nil {
		return err
	}
	xs, err := fileXattrs(int(src.Fd()))
	if err != nil {
		return err
	}
	n := node{kind: nodeFD, fd: int(dst.Fd())}
	a := attrs{name: dst.Name(), chown: true, uid: int(st.Uid), gid: int(st.Gid), mode: st.Mode & 0o7777,
		times: []unix.Timespec{st.Atim, st.Mtim}}
	for k, v := range xs {
		a.xattrs = append(a.xattrs, xattr{k, v})
	}
	return r.apply(n, &a, false)
}
