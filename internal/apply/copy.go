//go:build linux

package apply

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// CopyContent fills dst (empty, just created) with src's content, the
// cheapest way the filesystem allows.
func CopyContent(dst, src *os.File) (CopyMethod, error) {
	if err := unix.IoctlFileClone(int(dst.Fd()), int(src.Fd())); err == nil {
		return Reflink, nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &st); err != nil {
		return UserCopy, err
	}
	var off int64
	for off < st.Size {
		in, out := off, off
		n, err := unix.CopyFileRange(int(src.Fd()), &in, int(dst.Fd()), &out, int(st.Size-off), 0)
		if err != nil || n == 0 {
			if off == 0 && (errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL)) {
				return userCopy(dst, src)
			}
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return KernelCopy, err
		}
		off += int64(n)
	}
	return KernelCopy, nil
}

func userCopy(dst, src *os.File) (CopyMethod, error) {
	_, err := io.Copy(dst, io.NewSectionReader(src, 0, 1<<62))
	return UserCopy, err
}
