package apply

import (
	"errors"
	"fmt"
	"math"
	"path"
	"strings"

	"go.podman.io/storage/pkg/archive"
)

// The types, errors and helpers of this file build on every platform; the
// rest of the package (openat2, fs-verity, reflinks) is Linux's, and
// unsupported.go stands in for it elsewhere.

// CopyMethod says how CopyContent produced a file.
type CopyMethod int

const (
	// Reflink: the data extents are shared (XFS, btrfs): no bytes copied.
	Reflink CopyMethod = iota
	// KernelCopy: copy_file_range, the kernel copies without user-space
	// buffers.
	KernelCopy
	// UserCopy: read and write.
	UserCopy
)

func (m CopyMethod) String() string {
	switch m {
	case Reflink:
		return "reflink"
	case KernelCopy:
		return "copy_file_range"
	}
	return "copy"
}

// ErrForeignInode is matched (errors.Is) by a ForeignInodeError.
var ErrForeignInode = errors.New("inode belongs to another layer")

// ForeignInodeError reports an attempt to change an inode this layer did
// not create. It is a bug guard: callers break the link first (own).
type ForeignInodeError struct{ Name string }

func (e *ForeignInodeError) Error() string {
	return fmt.Sprintf("apply %q: refusing to change attributes of an inode another layer owns", e.Name)
}

func (e *ForeignInodeError) Unwrap() error { return ErrForeignInode }

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

// IsWhiteout reports whether name is an AUFS-style whiteout or opaque
// marker (".wh.*"), whatever the format.
func IsWhiteout(name string) bool {
	return strings.HasPrefix(path.Base(name), archive.WhiteoutPrefix)
}
