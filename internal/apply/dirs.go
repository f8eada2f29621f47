//go:build linux

package apply

import (
	"golang.org/x/sys/unix"
)

// dirTimes are a directory's times, applied by FinishDirs.
type dirTimes struct {
	times []unix.Timespec
}

// FinishDirs sets every directory's atime/mtime, once all entries exist.
// Creating children changes a directory's mtime, so times set at mkdir time
// would be lost: upstream's chunked differ loses them (observed),
// pkg/archive restores them at the end, and so do we.
func (r *Root) FinishDirs() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, name := range r.dirOrder {
		p := name
		if p == "" {
			p = "."
		}
		fd, err := openat2(r.fd, p, unix.O_PATH|unix.O_DIRECTORY, resolveFlags)
		if err != nil {
			return r.explainParent(name, name, err)
		}
		err = node{kind: nodePath, fd: fd}.utimes(r.dirs[name].times)
		_ = unix.Close(fd)
		if err != nil {
			return entryErr(name, "utimensat", err)
		}
	}
	return nil
}
