//go:build linux

package apply

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"golang.org/x/sys/unix"
)

// Target returns e as it will be on disk: name cleaned, IDs mapped,
// ForceMask applied. Content reuse compares it with a candidate source.
func (r *Root) Target(e *toc.Entry) (toc.Entry, error) {
	p, err := r.prepare(e, toc.TypeReg)
	if err != nil {
		return toc.Entry{}, err
	}
	p.t.Name = p.name
	return p.t, nil
}

// LinkFile hard-links src, an open regular file outside the root (another
// layer's copy of the same content), as e.Name. The inode is shared and
// stays the other layer's: callers link only when SameAttrs says the source
// already has e's owner, mode and xattrs, and a later hard-link entry that
// names it gets a private copy first (see own).
func (r *Root) LinkFile(e *toc.Entry, src *os.File) error {
	p, err := r.prepare(e, toc.TypeReg)
	if err != nil {
		return err
	}
	parent, base, err := r.openParent(p.name, true)
	if err != nil {
		return err
	}
	defer parent.close()
	// linkat of an fd needs AT_EMPTY_PATH (CAP_DAC_READ_SEARCH) or the
	// /proc/self/fd magic link with AT_SYMLINK_FOLLOW; the latter works for
	// any user that could open the file.
	if err := unix.Linkat(unix.AT_FDCWD, procFD(int(src.Fd())), parent.fd, base, unix.AT_SYMLINK_FOLLOW); err != nil {
		return entryErr(p.name, "linkat (reuse)", err)
	}
	if err := r.markForeign(int(src.Fd())); err != nil {
		return entryErr(p.name, "fstat (reuse)", err)
	}
	return nil
}

// SameAttrs reports whether src already has what target (from Target)
// would be given: owner, permission bits and xattrs (security.selinux
// aside). Times are not compared, as upstream's hard-link fingerprint does
// not.
func SameAttrs(src *os.File, target *toc.Entry) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &st); err != nil {
		return false, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != target.UID || int(st.Gid) != target.GID ||
		int64(st.Mode&0o7777) != target.Mode&0o7777 {
		return false, nil
	}
	want, err := target.DecodeXattrs()
	if err != nil {
		return false, err
	}
	delete(want, "security.selinux")
	have, err := fileXattrs(int(src.Fd()))
	if err != nil {
		return false, err
	}
	if len(want) != len(have) {
		return false, nil
	}
	for k, v := range want {
		if hv, ok := have[k]; !ok || !bytes.Equal(hv, v) {
			return false, nil
		}
	}
	return true, nil
}

// fileXattrs lists fd's xattrs, security.selinux aside.
func fileXattrs(fd int) (map[string][]byte, error) {
	size, err := unix.Flistxattr(fd, nil)
	if err != nil || size == 0 {
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		return nil, err
	}
	buf := make([]byte, size)
	n, err := unix.Flistxattr(fd, buf)
	if err != nil {
		return nil, err
	}
	names := strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00")
	sort.Strings(names)
	out := map[string][]byte{}
	for _, name := range names {
		if name == "" || name == "security.selinux" {
			continue
		}
		vsize, err := unix.Fgetxattr(fd, name, nil)
		if err != nil {
			return nil, fmt.Errorf("xattr %s: %w", name, err)
		}
		v := make([]byte, vsize)
		if vsize > 0 {
			if _, err := unix.Fgetxattr(fd, name, v); err != nil {
				return nil, fmt.Errorf("xattr %s: %w", name, err)
			}
		}
		out[name] = v
	}
	return out, nil
}
