package testutil

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// FileInfo is the comparable state of one tree member. The same shape comes
// from a directory on disk (Snapshot) and from a tar stream (TarSnapshot).
type FileInfo struct {
	Type      string // "dir", "reg", "symlink", "char", "block", "fifo", "socket"
	Mode      uint32 // permission bits plus setuid, setgid, sticky
	UID, GID  int
	Size      int64  // regular files only
	SHA256    string // regular files only
	Link      string // symlink target
	LinkGroup string // for hard-linked files: the smallest path of the group
	Xattrs    map[string]string
	ModTime   time.Time
	Major     uint32 // devices only
	Minor     uint32
}

// ignoredXattrs are host labels, not layer content.
var ignoredXattrs = map[string]bool{"security.selinux": true}

// Snapshot walks root (not following symlinks) and records every member
// except root itself, keyed by slash-separated relative path.
func Snapshot(tb testing.TB, root string) map[string]FileInfo {
	tb.Helper()
	out := map[string]FileInfo{}
	type inode struct{ dev, ino uint64 }
	groups := map[inode][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		info := FileInfo{
			Mode:    uint32(st.Mode) & 0o7777,
			UID:     int(st.Uid),
			GID:     int(st.Gid),
			ModTime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UTC(),
		}
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFDIR:
			info.Type = "dir"
		case syscall.S_IFREG:
			info.Type = "reg"
			info.Size = st.Size
			if info.SHA256, err = fileSHA256(p); err != nil {
				return err
			}
			if st.Nlink > 1 {
				k := inode{uint64(st.Dev), st.Ino}
				groups[k] = append(groups[k], rel)
			}
		case syscall.S_IFLNK:
			info.Type = "symlink"
			if info.Link, err = os.Readlink(p); err != nil {
				return err
			}
		case syscall.S_IFCHR, syscall.S_IFBLK:
			info.Type = map[bool]string{true: "char", false: "block"}[st.Mode&syscall.S_IFMT == syscall.S_IFCHR]
			info.Major, info.Minor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
		case syscall.S_IFIFO:
			info.Type = "fifo"
		case syscall.S_IFSOCK:
			info.Type = "socket"
		}
		if info.Xattrs, err = readXattrs(p); err != nil {
			return err
		}
		out[rel] = info
		return nil
	})
	if err != nil {
		tb.Fatalf("snapshot %s: %v", root, err)
	}
	for _, members := range groups {
		setLinkGroup(out, members)
	}
	return out
}

// setLinkGroup marks members as one hard-link group if it has two or more.
func setLinkGroup(out map[string]FileInfo, members []string) {
	if len(members) < 2 {
		return
	}
	sort.Strings(members)
	for _, m := range members {
		fi := out[m]
		fi.LinkGroup = members[0]
		out[m] = fi
	}
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func readXattrs(p string) (map[string]string, error) {
	sz, err := unix.Llistxattr(p, nil)
	if err != nil || sz == 0 {
		if errors.Is(err, unix.ENOTSUP) {
			err = nil
		}
		return nil, err
	}
	buf := make([]byte, sz)
	if sz, err = unix.Llistxattr(p, buf); err != nil {
		return nil, fmt.Errorf("listxattr %s: %w", p, err)
	}
	var m map[string]string
	for _, name := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if name == "" || ignoredXattrs[name] {
			continue
		}
		vsz, err := unix.Lgetxattr(p, name, nil)
		if err != nil {
			return nil, fmt.Errorf("getxattr %s %s: %w", p, name, err)
		}
		v := make([]byte, vsz)
		if vsz, err = unix.Lgetxattr(p, name, v); err != nil {
			return nil, fmt.Errorf("getxattr %s %s: %w", p, name, err)
		}
		if m == nil {
			m = map[string]string{}
		}
		m[name] = string(v[:vsz])
	}
	return m, nil
}

// TarSnapshot records a tar stream in Snapshot's shape. Hard links take the
// metadata and content of their target (as on disk, where they share an
// inode); later entries for the same path replace earlier ones.
func TarSnapshot(tb testing.TB, tarBytes []byte) map[string]FileInfo {
	tb.Helper()
	out := map[string]FileInfo{}
	links := map[string][]string{} // target -> links
	tr := tar.NewReader(bytes.NewReader(tarBytes))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatalf("tar snapshot: %v", err)
		}
		name := cleanTarName(h.Name)
		if name == "" {
			continue
		}
		if h.Typeflag == tar.TypeLink {
			target := cleanTarName(h.Linkname)
			fi, ok := out[target]
			if !ok {
				tb.Fatalf("tar snapshot: hard link %q to unknown %q", h.Name, h.Linkname)
			}
			out[name] = fi
			links[target] = append(links[target], name)
			continue
		}
		info := FileInfo{
			Mode:    uint32(h.Mode) & 0o7777,
			UID:     h.Uid,
			GID:     h.Gid,
			ModTime: h.ModTime.UTC(),
		}
		switch h.Typeflag {
		case tar.TypeDir:
			info.Type = "dir"
		case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old archives still use it
			info.Type = "reg"
			hs := sha256.New()
			n, err := io.Copy(hs, tr)
			if err != nil {
				tb.Fatalf("tar snapshot %q: %v", h.Name, err)
			}
			info.Size, info.SHA256 = n, hex.EncodeToString(hs.Sum(nil))
		case tar.TypeSymlink:
			info.Type, info.Link = "symlink", h.Linkname
		case tar.TypeChar, tar.TypeBlock:
			info.Type = map[bool]string{true: "char", false: "block"}[h.Typeflag == tar.TypeChar]
			info.Major, info.Minor = uint32(h.Devmajor), uint32(h.Devminor)
		case tar.TypeFifo:
			info.Type = "fifo"
		default:
			tb.Fatalf("tar snapshot %q: unsupported type %q", h.Name, h.Typeflag)
		}
		for k, v := range h.PAXRecords {
			if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok && !ignoredXattrs[x] {
				if info.Xattrs == nil {
					info.Xattrs = map[string]string{}
				}
				info.Xattrs[x] = v
			}
		}
		out[name] = info
	}
	for target, ls := range links {
		setLinkGroup(out, append(ls, target))
	}
	return out
}

func cleanTarName(n string) string {
	n = path.Clean("/" + n)
	return strings.TrimPrefix(n, "/")
}
