//go:build linux

package apply

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"golang.org/x/sys/unix"
)

// attrs is what gets applied to an inode, from a transformed entry.
type attrs struct {
	name     string
	chown    bool
	uid, gid int
	xattrs   []xattr // sorted by name, for deterministic errors
	times    []unix.Timespec
	mode     uint32
}

type xattr struct {
	name  string
	value []byte
}

// attrsOf decodes a transformed entry's attributes.
func (r *Root) attrsOf(name string, t *toc.Entry) (attrs, error) {
	a := attrs{
		name: name,
		// pkg/archive does not chown under ForceMask: the real owner lives
		// in OverrideStatXattr. Upstream's chunked differ chowns anyway.
		chown: r.opts.ForceMask == nil,
		uid:   t.UID,
		gid:   t.GID,
		times: timespecs(t.AccessTime, t.ModTime),
		mode:  uint32(t.Mode) & 0o7777,
	}
	raw, err := t.DecodeXattrs()
	if err != nil {
		return a, entryErr(name, "decode xattrs", err)
	}
	for k, v := range raw {
		// The host's label, not layer content (upstream and pkg/archive
		// skip it too).
		if k == "security.selinux" {
			continue
		}
		a.xattrs = append(a.xattrs, xattr{k, v})
	}
	sort.Slice(a.xattrs, func(i, j int) bool { return a.xattrs[i].name < a.xattrs[j].name })
	return a, nil
}

// timespecs follows pkg/archive: the access time is never earlier than the
// modification time (a missing one, as USTAR has, becomes mtime). A
// missing mtime leaves the current one (UTIME_OMIT, like upstream).
func timespecs(atime, mtime time.Time) []unix.Timespec {
	omit := unix.Timespec{Nsec: unix.UTIME_OMIT}
	if mtime.IsZero() {
		if atime.IsZero() {
			return []unix.Timespec{omit, omit}
		}
		return []unix.Timespec{toTimespec(atime), omit}
	}
	if atime.IsZero() || atime.Before(mtime) {
		atime = mtime
	}
	return []unix.Timespec{toTimespec(atime), toTimespec(mtime)}
}

func toTimespec(t time.Time) unix.Timespec {
	ts, _ := unix.TimeToTimespec(t) // out of range: the kernel clamps anyway
	return ts
}

// node is an inode to set attributes on, addressed the safest way its kind
// allows.
type node struct {
	kind   nodeKind
	fd     int    // nodeFD: an open fd; nodePath: an O_PATH fd
	parent int    // nodeLink: the parent dir fd
	base   string // nodeLink: the link's name in parent
}

type nodeKind int

const (
	// nodeFD: a regular file or directory opened for I/O.
	nodeFD nodeKind = iota
	// nodePath: any non-symlink inode held by an O_PATH fd (devices and
	// fifos cannot be opened without side effects); reached through
	// /proc/self/fd, which names exactly that inode.
	nodePath
	// nodeLink: a symlink, addressed by name under its parent fd with
	// NOFOLLOW (no syscall sets xattrs or times through an O_PATH fd of a
	// symlink without following it).
	nodeLink
)

func (n node) chown(uid, gid int) error {
	switch n.kind {
	case nodeFD:
		return unix.Fchown(n.fd, uid, gid)
	case nodePath:
		return unix.Fchownat(n.fd, "", uid, gid, unix.AT_EMPTY_PATH)
	default:
		return unix.Fchownat(n.parent, n.base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	}
}

func (n node) setxattr(name string, value []byte) error {
	switch n.kind {
	case nodeFD:
		return unix.Fsetxattr(n.fd, name, value, 0)
	case nodePath:
		return unix.Setxattr(procFD(n.fd), name, value, 0)
	default:
		// The parent is reached through its magic link; base is a single
		// component and lsetxattr does not follow it.
		return unix.Lsetxattr(procFD(n.parent)+"/"+n.base, name, value, 0)
	}
}

func (n node) utimes(ts []unix.Timespec) error {
	switch n.kind {
	case nodeFD, nodePath:
		return unix.UtimesNanoAt(unix.AT_FDCWD, procFD(n.fd), ts, 0)
	default:
		return unix.UtimesNanoAt(n.parent, n.base, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
}

func (n node) chmod(mode uint32) error {
	switch n.kind {
	case nodeFD:
		return unix.Fchmod(n.fd, mode)
	case nodePath:
		return unix.Chmod(procFD(n.fd), mode)
	default:
		return nil // symlink modes are meaningless on Linux
	}
}

// apply sets owner, xattrs, times (unless skipTimes) and mode, in that
// order: chown clears setuid/setgid, so chmod must come last, and chmod
// does not touch mtime.
func (r *Root) apply(n node, a *attrs, skipTimes bool) error {
	if err := r.guardOwned(n, a.name); err != nil {
		return err
	}
	if a.chown {
		if err := n.chown(a.uid, a.gid); err != nil && !r.opts.IgnoreChownErrors {
			if errors.Is(err, unix.EINVAL) {
				return entryErr(a.name, fmt.Sprintf("chown %d:%d (is the ID in the user namespace? check /etc/subuid and /etc/subgid)", a.uid, a.gid), err)
			}
			return entryErr(a.name, fmt.Sprintf("chown %d:%d", a.uid, a.gid), err)
		}
	}
	for _, x := range a.xattrs {
		if err := n.setxattr(x.name, x.value); err != nil {
			if ignorableXattrErr(n, x.name, err) {
				continue
			}
			return entryErr(a.name, "setxattr "+x.name, err)
		}
	}
	if !skipTimes {
		if err := n.utimes(a.times); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return entryErr(a.name, "utimensat", err)
		}
	}
	if err := n.chmod(a.mode); err != nil {
		return entryErr(a.name, fmt.Sprintf("chmod %#o", a.mode), err)
	}
	return nil
}

// ignorableXattrErr: a filesystem without xattr support is tolerated (like
// upstream and pkg/archive), and the kernel refuses user.* xattrs on
// anything but regular files and directories.
func ignorableXattrErr(n node, name string, err error) bool {
	if errors.Is(err, unix.ENOTSUP) {
		return true
	}
	return n.kind != nodeFD && strings.HasPrefix(name, "user.") && errors.Is(err, unix.EPERM)
}
