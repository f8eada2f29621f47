package index

import (
	"errors"
	"path"

	"golang.org/x/sys/unix"
)

func openPathLayer(id, dir string) (*pathLayer, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &LayerError{Layer: id, Op: "dir", Err: err}
	}
	return &pathLayer{id: id, dir: dir, fd: fd, dirs: map[string]bool{}}, nil
}

// resolveBeneath keeps every lookup inside the layer's directory: layer
// trees are untrusted, and a symlink must not point a candidate elsewhere.
const resolveBeneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

// stat returns the size of the file at rel if it is a regular file; ok is false when it
// is missing, not regular, or cannot be resolved safely (including kernels
// without openat2: no candidate, no reuse, never an error).
func (pl *pathLayer) stat(rel string) (int64, bool) {
	var st unix.Stat_t
	if dir := path.Dir(rel); dir != "." && !pl.hasDir(dir) {
		return 0, false
	}
	fd, err := unix.Openat2(pl.fd, rel, &unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: resolveBeneath})
	if err != nil {
		return 0, false
	}
	defer func() { _ = unix.Close(fd) }()
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, false
	}
	return st.Size, true
}

func (pl *pathLayer) hasDir(dir string) bool {
	pl.mu.Lock()
	ok, seen := pl.dirs[dir]
	pl.mu.Unlock()
	if seen {
		return ok
	}
	// A layer without "src" has no "src/x/y" either: checking the parent
	// first (once, cached) answers a whole missing subtree with one
	// syscall, then map lookups, instead of one syscall per directory.
	if parent := path.Dir(dir); parent != "." && !pl.hasDir(parent) {
		return false
	}
	fd, err := unix.Openat2(pl.fd, dir, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveBeneath})
	ok = err == nil
	if ok {
		_ = unix.Close(fd)
	} else if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
		return false // not cached: EMFILE and friends are not facts about the layer
	}
	pl.cacheDir(dir, ok)
	return ok
}

func (pl *pathLayer) cacheDir(dir string, ok bool) {
	pl.mu.Lock()
	if len(pl.dirs) < maxCachedDirs {
		pl.dirs[dir] = ok
	}
	pl.mu.Unlock()
}

func (pl *pathLayer) close() error {
	if pl.fd < 0 {
		return nil
	}
	err := unix.Close(pl.fd)
	pl.fd = -1
	return err
}
