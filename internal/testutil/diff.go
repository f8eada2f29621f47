package testutil

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// DiffOption relaxes Diff.
type DiffOption func(*diffConfig)

type diffConfig struct {
	ignoreDirMtimes bool
	ignoreXattrPfx  []string
	ignorePaths     map[string]bool
}

// IgnoreDirMtimes skips directory mtimes, which extraction order and later
// file creation legitimately disturb.
func IgnoreDirMtimes() DiffOption { return func(c *diffConfig) { c.ignoreDirMtimes = true } }

// IgnoreXattrPrefix skips xattrs whose name starts with prefix (for example
// "trusted.overlay." on a layer's diff directory).
func IgnoreXattrPrefix(prefix string) DiffOption {
	return func(c *diffConfig) { c.ignoreXattrPfx = append(c.ignoreXattrPfx, prefix) }
}

// IgnorePath skips one path entirely.
func IgnorePath(p string) DiffOption {
	return func(c *diffConfig) { c.ignorePaths[p] = true }
}

// Diff lists every difference between two snapshots, sorted by path, one
// line per differing field. An empty result means equal.
func Diff(a, b map[string]FileInfo, opts ...DiffOption) []string {
	c := diffConfig{ignorePaths: map[string]bool{}}
	for _, o := range opts {
		o(&c)
	}
	var out []string
	paths := slices.Sorted(maps.Keys(a))
	for p := range b {
		if _, ok := a[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	for _, p := range paths {
		if c.ignorePaths[p] {
			continue
		}
		x, inA := a[p]
		y, inB := b[p]
		switch {
		case !inA:
			out = append(out, fmt.Sprintf("%s: only in second (%s)", p, y.Type))
			continue
		case !inB:
			out = append(out, fmt.Sprintf("%s: only in first (%s)", p, x.Type))
			continue
		}
		field := func(name string, u, v any) {
			if u != v {
				out = append(out, fmt.Sprintf("%s: %s %v != %v", p, name, u, v))
			}
		}
		field("type", x.Type, y.Type)
		field("mode", fmt.Sprintf("%#o", x.Mode), fmt.Sprintf("%#o", y.Mode))
		field("uid", x.UID, y.UID)
		field("gid", x.GID, y.GID)
		field("size", x.Size, y.Size)
		field("sha256", x.SHA256, y.SHA256)
		field("link", x.Link, y.Link)
		field("hardlink group", x.LinkGroup, y.LinkGroup)
		field("rdev", fmt.Sprintf("%d:%d", x.Major, x.Minor), fmt.Sprintf("%d:%d", y.Major, y.Minor))
		bothDirs := x.Type == "dir" && y.Type == "dir"
		if (!c.ignoreDirMtimes || !bothDirs) && !x.ModTime.Equal(y.ModTime) {
			out = append(out, fmt.Sprintf("%s: mtime %s != %s", p, x.ModTime.Format("2006-01-02T15:04:05.999999999Z"), y.ModTime.Format("2006-01-02T15:04:05.999999999Z")))
		}
		xa, ya := c.xattrs(x.Xattrs), c.xattrs(y.Xattrs)
		for _, k := range slices.Sorted(maps.Keys(xa)) {
			if v, ok := ya[k]; !ok {
				out = append(out, fmt.Sprintf("%s: xattr %s only in first", p, k))
			} else if v != xa[k] {
				out = append(out, fmt.Sprintf("%s: xattr %s %q != %q", p, k, xa[k], v))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(ya)) {
			if _, ok := xa[k]; !ok {
				out = append(out, fmt.Sprintf("%s: xattr %s only in second", p, k))
			}
		}
	}
	return out
}

func (c *diffConfig) xattrs(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if !slices.ContainsFunc(c.ignoreXattrPfx, func(p string) bool { return strings.HasPrefix(k, p) }) {
			out[k] = v
		}
	}
	return out
}
