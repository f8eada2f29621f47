//go:build linux

package apply

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// resolveFlags confine a lookup to the root and refuse every symlink, so a
// hostile layer cannot steer a later entry through a link it planted.
const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// implicitDirMode is the mode of parents created on demand. Upstream uses 0
// (BEHAVIOUR.md "path-sanitisation", an observed accident: the layer is unreadable until a
// dir entry fixes it); pkg/archive uses 0777&^umask. 0755 is what a dir
// entry almost always says, and a later dir entry overrides it anyway.
const implicitDirMode = 0o755

func openat2(dirfd int, p string, flags uint64, resolve uint64) (int, error) {
	how := unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Resolve: resolve}
	for {
		fd, err := unix.Openat2(dirfd, p, &how)
		// EAGAIN: a concurrent rename raced the in-root lookup; retry.
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		return fd, err
	}
}

// dirFD is a directory fd that may be borrowed (the root's) or owned.
type dirFD struct {
	fd  int
	own bool
}

func (d dirFD) close() {
	if d.own {
		_ = unix.Close(d.fd)
	}
}

// openDir opens the in-root directory dir ("" = root) as O_PATH. With
// create, missing components are made with implicitDirMode. entry names
// the entry on whose behalf this happens, for errors.
func (r *Root) openDir(entry, dir string, create bool) (dirFD, error) {
	if dir == "" {
		return dirFD{fd: r.fd}, nil
	}
	fd, err := openat2(r.fd, dir, unix.O_PATH|unix.O_DIRECTORY, resolveFlags)
	if err == nil {
		return dirFD{fd: fd, own: true}, nil
	}
	switch {
	case errors.Is(err, unix.ENOENT) && create:
		return r.mkdirAll(entry, dir)
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.EXDEV):
		return dirFD{}, r.explainParent(entry, dir, err)
	}
	return dirFD{}, entryErr(entry, fmt.Sprintf("open parent %q", dir), err)
}

// openParent resolves the parent of a cleaned non-root name.
func (r *Root) openParent(name string, create bool) (dirFD, string, error) {
	dir, base := path.Split(name)
	d, err := r.openDir(name, strings.TrimSuffix(dir, "/"), create)
	return d, base, err
}

// mkdirAll walks dir one component at a time, creating what is missing.
// Each step refuses symlinks, so nothing is created through one.
func (r *Root) mkdirAll(entry, dir string) (dirFD, error) {
	cur := dirFD{fd: r.fd}
	prefix := ""
	for comp := range strings.SplitSeq(dir, "/") {
		prefix = path.Join(prefix, comp)
		const step = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS
		fd, err := openat2(cur.fd, comp, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW, step)
		if errors.Is(err, unix.ENOENT) {
			fd, err = r.mkdirImplicit(cur.fd, comp)
			if err != nil {
				cur.close()
				return dirFD{}, entryErr(entry, fmt.Sprintf("mkdirat %q", prefix), err)
			}
		}
		if err != nil {
			cur.close()
			if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
				return dirFD{}, r.explainParent(entry, prefix, err)
			}
			return dirFD{}, entryErr(entry, fmt.Sprintf("open parent %q", prefix), err)
		}
		cur.close()
		cur = dirFD{fd: fd, own: true}
	}
	return cur, nil
}

// mkdirImplicit creates one missing parent with a umask-independent mode,
// owned by the mapped root like pkg/archive does (MkdirAllAndChownNew).
func (r *Root) mkdirImplicit(parent int, comp string) (int, error) {
	created := true
	if err := unix.Mkdirat(parent, comp, implicitDirMode); err != nil {
		if !errors.Is(err, unix.EEXIST) {
			return -1, err
		}
		created = false
	}
	const step = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS
	fd, err := openat2(parent, comp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, step)
	if err != nil || !created {
		// Lost a race with another goroutine: the directory is theirs to
		// set up (it may be a dir entry whose attributes are in flight).
		return fd, err
	}
	if r.opts.ForceMask == nil && r.mapped {
		if err := unix.Fchown(fd, r.rootPair.UID, r.rootPair.GID); err != nil && !r.opts.IgnoreChownErrors {
			_ = unix.Close(fd)
			return -1, err
		}
	}
	if err := unix.Fchmod(fd, implicitDirMode); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// explainParent turns a failed lookup of dir into a typed error naming the
// first offending component. Only runs on the error path.
func (r *Root) explainParent(entry, dir string, cause error) error {
	prefix := ""
	for comp := range strings.SplitSeq(dir, "/") {
		prefix = path.Join(prefix, comp)
		var st unix.Stat_t
		if err := unix.Fstatat(r.fd, prefix, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			break
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			continue
		case unix.S_IFLNK:
			return &InsecurePathError{Name: entry, Reason: fmt.Sprintf("parent %q is a symlink", prefix)}
		default:
			return &ConflictError{Name: entry, Reason: fmt.Sprintf("parent %q is not a directory", prefix), Err: unix.ENOTDIR}
		}
	}
	if errors.Is(cause, unix.ELOOP) || errors.Is(cause, unix.EXDEV) {
		return &InsecurePathError{Name: entry, Reason: fmt.Sprintf("parent %q crosses a symlink", dir)}
	}
	return &ConflictError{Name: entry, Reason: fmt.Sprintf("parent %q is not a directory", dir), Err: cause}
}

// closeFD closes an fd we only read through; there is nothing to flush.
func closeFD(fd int) { _ = unix.Close(fd) }
