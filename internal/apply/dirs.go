//go:build linux

package apply

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// FinishDirs sets every directory's atime/mtime, once all entries exist,
// and releases the recorded times (dirTimesLog), also on error. Creating
// children changes a directory's mtime, so times set at mkdir time would be
// lost: upstream's chunked differ loses them (observed), pkg/archive
// restores them at the end, and so do we.
func (r *Root) FinishDirs() (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer func() {
		if cerr := r.dirs.close(); err == nil && cerr != nil {
			err = fmt.Errorf("releasing the directory times spool: %w", cerr)
		}
	}()
	return r.dirs.replay(func(name string, ts [2]unix.Timespec) error {
		p := name
		if p == "" {
			p = "."
		}
		fd, err := openat2(r.fd, p, unix.O_PATH|unix.O_DIRECTORY, resolveFlags)
		if err != nil {
			return r.explainParent(name, name, err)
		}
		err = node{kind: nodePath, fd: fd}.utimes(ts[:])
		_ = unix.Close(fd)
		if err != nil {
			return entryErr(name, "utimensat", err)
		}
		return nil
	})
}
