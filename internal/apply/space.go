package apply

import (
	"errors"
	"fmt"
	"math"

	"golang.org/x/sys/unix"
)

// ErrTooLarge is matched (errors.Is) by a *TooLargeError.
var ErrTooLarge = errors.New("layer does not fit")

// TooLargeError reports a layer whose declared content exceeds the free
// space of the destination's filesystem.
type TooLargeError struct {
	Path       string
	Need, Free uint64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the layer declares %d bytes of file content, but the filesystem of %s has %d bytes free", e.Need, e.Path, e.Free)
}

func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

// SumSizes adds file sizes, saturating instead of overflowing (a hostile
// TOC can declare many files of 2^62 bytes); negative sizes count as 0
// (the TOC validation has refused them already).
func SumSizes(total uint64, size int64) uint64 {
	if size <= 0 {
		return total
	}
	if total > math.MaxUint64-uint64(size) {
		return math.MaxUint64
	}
	return total + uint64(size)
}

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
	free := st.Bavail * uint64(st.Bsize)
	if st.Bsize > 0 && st.Bavail > math.MaxUint64/uint64(st.Bsize) {
		free = math.MaxUint64
	}
	if need > free {
		return &TooLargeError{Path: r.path, Need: need, Free: free}
	}
	return nil
}
