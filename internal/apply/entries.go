//go:build linux

package apply

import (
	"errors"
	"fmt"
	"os"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"golang.org/x/sys/unix"
)

// prepared is an entry after name cleaning and Transform.
type prepared struct {
	name string // cleaned; "" is the root
	t    toc.Entry
}

func (r *Root) prepare(e *toc.Entry, types ...string) (prepared, error) {
	typeOK := false
	for _, t := range types {
		typeOK = typeOK || e.Type == t
	}
	if !typeOK {
		return prepared{}, entryErr(e.Name, "apply", fmt.Errorf("entry type %q, want one of %q", e.Type, types))
	}
	name, err := cleanName(e.Name)
	if err != nil {
		return prepared{}, err
	}
	t, err := r.opts.Transform(e)
	if err != nil {
		return prepared{}, err
	}
	if name == "" && t.Type != toc.TypeDir {
		// Never replace the destination itself (pkg/archive refuses too).
		return prepared{}, &InsecurePathError{Name: e.Name, Reason: fmt.Sprintf("%s entry for the layer root", t.Type)}
	}
	return prepared{name: name, t: t}, nil
}

// Dir creates a directory (an existing directory is fine and gets the
// entry's attributes) and records its times for FinishDirs. A root entry
// ("/", "./") sets the destination's own attributes and RootDirMode.
func (r *Root) Dir(e *toc.Entry) error {
	p, err := r.prepare(e, toc.TypeDir)
	if err != nil {
		return err
	}
	a, err := r.attrsOf(p.name, &p.t)
	if err != nil {
		return err
	}
	fd, err := r.mkdir(p.name)
	if err != nil {
		return err
	}
	defer closeFD(fd)
	if err := r.apply(node{kind: nodeFD, fd: fd}, &a, true); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.dirs.set(p.name, [2]unix.Timespec(a.times)); err != nil {
		return entryErr(p.name, "recording times", err)
	}
	if p.name == "" {
		m := fileMode(int64(a.mode)) | os.ModeDir
		r.rootMode = &m
	}
	return nil
}

// mkdir creates name unless it is already a directory and returns it open
// for reading.
func (r *Root) mkdir(name string) (int, error) {
	if name == "" {
		fd, err := unix.Openat(r.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, entryErr("/", "open", err)
		}
		return fd, nil
	}
	parent, base, err := r.openParent(name, true)
	if err != nil {
		return -1, err
	}
	defer parent.close()
	// 0o700 until apply sets the real mode: nobody else sees it half-made.
	if err := unix.Mkdirat(parent.fd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, entryErr(name, "mkdirat", err)
	}
	fd, err := unix.Openat(parent.fd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return -1, &ConflictError{Name: name, Reason: "exists and is not a directory", Err: err}
	}
	if err != nil {
		return -1, entryErr(name, "open", err)
	}
	return fd, nil
}

// CreateFile creates a new regular file (a duplicate name is an error) and
// returns it open for writing; the caller writes the content and passes it
// to FinishFile.
func (r *Root) CreateFile(e *toc.Entry) (*os.File, error) {
	p, err := r.prepare(e, toc.TypeReg)
	if err != nil {
		return nil, err
	}
	return r.createFile(p.name)
}

func (r *Root) createFile(name string) (*os.File, error) {
	parent, base, err := r.openParent(name, true)
	if err != nil {
		return nil, err
	}
	defer parent.close()
	// 0o600 until FinishFile sets the real mode.
	fd, err := unix.Openat(parent.fd, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.EEXIST) {
		return nil, &ConflictError{Name: name, Reason: "already exists", Err: err}
	}
	if err != nil {
		return nil, entryErr(name, "openat", err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// FinishFile applies e's attributes to f (from CreateFile) and closes it,
// also on error.
func (r *Root) FinishFile(e *toc.Entry, f *os.File) error {
	p, err := r.prepare(e, toc.TypeReg)
	if err != nil {
		_ = f.Close()
		return err
	}
	return r.finishFile(p, f)
}

func (r *Root) finishFile(p prepared, f *os.File) error {
	a, err := r.attrsOf(p.name, &p.t)
	if err != nil {
		_ = f.Close()
		return err
	}
	err = r.apply(node{kind: nodeFD, fd: int(f.Fd())}, &a, false)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = entryErr(p.name, "close", cerr)
	}
	return err
}

// EmptyFile creates a regular file without content.
func (r *Root) EmptyFile(e *toc.Entry) error {
	p, err := r.prepare(e, toc.TypeReg)
	if err != nil {
		return err
	}
	return r.emptyFile(p)
}

func (r *Root) emptyFile(p prepared) error {
	f, err := r.createFile(p.name)
	if err != nil {
		return err
	}
	return r.finishFile(p, f)
}

// Symlink creates a symlink with the target verbatim, then sets its owner,
// times and xattrs like pkg/archive (upstream's chunked differ sets none,
// an observed accident).
func (r *Root) Symlink(e *toc.Entry) error {
	p, err := r.prepare(e, toc.TypeSymlink)
	if err != nil {
		return err
	}
	a, err := r.attrsOf(p.name, &p.t)
	if err != nil {
		return err
	}
	parent, base, err := r.openParent(p.name, true)
	if err != nil {
		return err
	}
	defer parent.close()
	if err := unix.Symlinkat(p.t.LinkName, parent.fd, base); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return &ConflictError{Name: p.name, Reason: "already exists", Err: err}
		}
		return entryErr(p.name, "symlinkat", err)
	}
	return r.apply(node{kind: nodeLink, parent: parent.fd, base: base}, &a, false)
}

// Device creates a char or block device or a fifo (upstream's chunked
// differ creates nothing, an observed accident; pkg/archive creates them).
// With ForceMask it becomes an empty regular file, as in pkg/archive.
func (r *Root) Device(e *toc.Entry) error {
	p, err := r.prepare(e, toc.TypeChar, toc.TypeBlock, toc.TypeFifo)
	if err != nil {
		return err
	}
	if p.t.Type == toc.TypeReg {
		return r.emptyFile(p)
	}
	a, err := r.attrsOf(p.name, &p.t)
	if err != nil {
		return err
	}
	typ := map[string]uint32{toc.TypeChar: unix.S_IFCHR, toc.TypeBlock: unix.S_IFBLK, toc.TypeFifo: unix.S_IFIFO}[p.t.Type]
	parent, base, err := r.openParent(p.name, true)
	if err != nil {
		return err
	}
	defer parent.close()
	dev := int(unix.Mkdev(uint32(p.t.DevMajor), uint32(p.t.DevMinor)))
	if err := unix.Mknodat(parent.fd, base, typ|0o600, dev); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return &ConflictError{Name: p.name, Reason: "already exists", Err: err}
		}
		return entryErr(p.name, "mknodat", err)
	}
	fd, err := unix.Openat(parent.fd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return entryErr(p.name, "open", err)
	}
	defer closeFD(fd)
	return r.apply(node{kind: nodePath, fd: fd}, &a, false)
}

// Hardlink links e.Name to e.LinkName, both in-root and without following
// symlinks in either parent chain, then applies e's attributes to the
// shared inode (like upstream), which is always one this layer owns. Call
// it after everything else exists. Nothing already at e.Name is replaced
// (upstream replaces it; see Names for why we do not).
func (r *Root) Hardlink(e *toc.Entry) error {
	p, err := r.prepare(e, toc.TypeHardlink)
	if err != nil {
		return err
	}
	target, err := cleanName(p.t.LinkName)
	if err != nil {
		return &InsecurePathError{Name: e.Name, Reason: fmt.Sprintf("link target %q is not local to the layer root", p.t.LinkName)}
	}
	if target == "" {
		return &InsecurePathError{Name: e.Name, Reason: "link target is the layer root"}
	}
	if target == p.name {
		return &ConflictError{Name: p.name, Reason: "hard link to itself"}
	}
	a, err := r.attrsOf(p.name, &p.t)
	if err != nil {
		return err
	}
	tparent, tbase, err := r.openParent(target, false)
	if err != nil {
		var ip *InsecurePathError
		if errors.As(err, &ip) {
			return &InsecurePathError{Name: e.Name, Reason: "link target: " + ip.Reason}
		}
		return entryErr(p.name, fmt.Sprintf("link target %q", target), err)
	}
	defer tparent.close()
	parent, base, err := r.openParent(p.name, true)
	if err != nil {
		return err
	}
	defer parent.close()
	// A target linked in from another layer becomes this layer's own copy
	// before the entry's attributes land on it.
	var tst unix.Stat_t
	if err := unix.Fstatat(tparent.fd, tbase, &tst, unix.AT_SYMLINK_NOFOLLOW); err == nil && r.isForeign(&tst) {
		if err := r.own(tparent.fd, tbase, target, &tst); err != nil {
			return err
		}
	}
	// Flags 0: a symlink target is linked itself, never followed.
	err = unix.Linkat(tparent.fd, tbase, parent.fd, base, 0)
	if errors.Is(err, unix.EEXIST) {
		// Never replaced: see Names.
		return &ConflictError{Name: p.name, Reason: "already exists", Err: err}
	}
	if err != nil {
		return entryErr(p.name, fmt.Sprintf("linkat %q", target), err)
	}
	fd, err := unix.Openat(parent.fd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return entryErr(p.name, "open", err)
	}
	defer closeFD(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return entryErr(p.name, "fstat", err)
	}
	n := node{kind: nodePath, fd: fd}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		n = node{kind: nodeLink, parent: parent.fd, base: base}
	}
	return r.apply(n, &a, false)
}
