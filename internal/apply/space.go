//go:build linux

package apply

import (
	"github.com/chunkdiff/chunkdiff/internal/spool"
	"golang.org/x/sys/unix"
)

// CheckFits refuses, before anything is staged, a layer whose file content
// (need bytes) exceeds the free space of the destination's filesystem. An
// ordinary pull writes every byte of the layer there, so such a layer
// cannot be pulled either; refusing it up front turns a file declared as
// one 1 PiB chunk of zeros (a hole that costs no space, but that the DiffID
// would read back for days) into an immediate error. Content reuse by hard
// link or reflink could need less, which this check ignores on purpose:
// the limit is about plausibility, not accounting.
func (r *Root) CheckFits(need uint64) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(r.fd, &st); err != nil {
		return &EntryError{Name: "/", Op: "statfs", Err: err}
	}
	free := spool.Available(&st)
	if need > free {
		return &TooLargeError{Path: r.path, Need: need, Free: free}
	}
	return nil
}
