//go:build linux

package apply

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/chunkdiff/chunkdiff/formats/toc"
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

// CopyVerified fills dst (empty, just created by CreateFile) with the first
// size bytes of src and feeds h exactly what dst then holds, so that the
// caller can check the copy against the digest it expects with one read of
// the source. A reflink is tried first; its result is read back from dst
// and hashed (the clone cannot change any more, the source can). Otherwise
// the bytes are read once into buf, hashed and written. Any error leaves
// dst in an unspecified state: the caller discards it (DiscardFile).
func CopyVerified(dst, src *os.File, size int64, h hash.Hash, buf []byte) (CopyMethod, error) {
	if len(buf) == 0 {
		buf = make([]byte, 256<<10)
	}
	if size > 0 && unix.IoctlFileClone(int(dst.Fd()), int(src.Fd())) == nil {
		var st unix.Stat_t
		if err := unix.Fstat(int(dst.Fd()), &st); err != nil {
			return Reflink, err
		}
		if st.Size != size {
			return Reflink, fmt.Errorf("the source has %d bytes, want %d", st.Size, size)
		}
		// dst is write-only: read the clone back through a read-only fd.
		fd, err := unix.Open(procFD(int(dst.Fd())), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return Reflink, err
		}
		back := os.NewFile(uintptr(fd), dst.Name())
		defer back.Close()
		n, err := io.CopyBuffer(h, io.NewSectionReader(back, 0, size), buf)
		if err == nil && n != size {
			err = io.ErrUnexpectedEOF
		}
		return Reflink, err
	}
	for off := int64(0); off < size; {
		want := int(min(int64(len(buf)), size-off))
		n, err := src.ReadAt(buf[:want], off)
		if n < want {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return UserCopy, err
		}
		h.Write(buf[:n])
		if _, err := dst.WriteAt(buf[:n], off); err != nil {
			return UserCopy, err
		}
		off += int64(n)
	}
	return UserCopy, nil
}

// DiscardFile closes f, created by CreateFile for e and never finished,
// and removes it, so that e can be created again (its content fetched
// instead of copied). It removes nothing but f's own inode.
func (r *Root) DiscardFile(e *toc.Entry, f *os.File) error {
	defer f.Close()
	p, err := r.prepare(e, toc.TypeReg)
	if err != nil {
		return err
	}
	parent, base, err := r.openParent(p.name, false)
	if err != nil {
		return err
	}
	defer parent.close()
	var have, at unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &have); err != nil {
		return entryErr(p.name, "fstat (discard)", err)
	}
	if err := unix.Fstatat(parent.fd, base, &at, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return entryErr(p.name, "fstatat (discard)", err)
	}
	if at.Dev != have.Dev || at.Ino != have.Ino {
		return &ConflictError{Name: p.name, Reason: "replaced before it could be discarded"}
	}
	if err := unix.Unlinkat(parent.fd, base, 0); err != nil {
		return entryErr(p.name, "unlinkat (discard)", err)
	}
	return nil
}
