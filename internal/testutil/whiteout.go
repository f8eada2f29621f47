package testutil

import (
	"archive/tar"
	"path"
	"strings"
)

// Whiteout returns the AUFS-style whiteout entry deleting p from lower layers.
func Whiteout(p string) Entry {
	p = strings.TrimSuffix(p, "/")
	return Entry{Header: &tar.Header{
		Typeflag: tar.TypeReg, Name: path.Join(path.Dir(p), ".wh."+path.Base(p)),
		Mode: 0o644, ModTime: treeEpoch,
	}}
}

// OpaqueDir returns the entry marking dir opaque: lower-layer contents of
// dir are hidden, entries of the same layer remain.
func OpaqueDir(dir string) Entry {
	return Entry{Header: &tar.Header{
		Typeflag: tar.TypeReg, Name: path.Join(strings.TrimSuffix(dir, "/"), ".wh..wh..opq"),
		Mode: 0o644, ModTime: treeEpoch,
	}}
}

// Whiteouts builds an upper layer on top of parent: it deletes the paths in
// deleted, makes the directories in opaque opaque, and adds the entries in
// added. Directory entries for every parent directory the whiteouts and
// additions live in are copied from parent (or created) first, as image
// builders do.
func Whiteouts(parent []Entry, deleted, opaque []string, added []Entry) []Entry {
	byName := map[string]*tar.Header{}
	for _, e := range parent {
		byName[strings.TrimSuffix(e.Header.Name, "/")] = e.Header
	}
	// Directories the upper layer adds itself win over the parent's.
	for _, e := range added {
		if e.Header.Typeflag == tar.TypeDir {
			byName[strings.TrimSuffix(e.Header.Name, "/")] = e.Header
		}
	}
	var out []Entry
	seen := map[string]bool{}
	ensureDir := func(dir string) {
		var parts []string
		for d := dir; d != "." && d != "/" && d != ""; d = path.Dir(d) {
			parts = append([]string{d}, parts...)
		}
		for _, d := range parts {
			if seen[d] {
				continue
			}
			seen[d] = true
			h := &tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: treeEpoch}
			if ph, ok := byName[d]; ok && ph.Typeflag == tar.TypeDir {
				c := *ph
				h = &c
			}
			out = append(out, Entry{Header: h})
		}
	}
	for _, d := range opaque {
		d = strings.TrimSuffix(d, "/")
		ensureDir(d)
		out = append(out, OpaqueDir(d))
	}
	for _, p := range deleted {
		ensureDir(path.Dir(strings.TrimSuffix(p, "/")))
		out = append(out, Whiteout(p))
	}
	for _, e := range added {
		name := strings.TrimSuffix(e.Header.Name, "/")
		ensureDir(path.Dir(name))
		if e.Header.Typeflag == tar.TypeDir {
			if seen[name] {
				continue
			}
			seen[name] = true
		}
		out = append(out, e)
	}
	return out
}
