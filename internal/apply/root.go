//go:build linux

package apply

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"go.podman.io/storage/pkg/idtools"
	"golang.org/x/sys/unix"
)

// Root is an open destination directory.
type Root struct {
	fd       int
	path     string
	opts     Options
	mapped   bool
	rootPair idtools.IDPair

	mu       sync.Mutex
	dirs     *dirTimesLog // cleaned name → times to restore
	rootMode *os.FileMode
	// foreign: inodes linked in from other layers (LinkFile); never
	// changed through this root.
	foreign map[inodeKey]struct{}
}

// Open opens dest, which must be an existing directory. With ForceMask,
// dest first gets OverrideStatXattr describing its current owner and mode
// (upstream's chunked differ does the same; a root entry overrides it).
func Open(dest string, opts Options) (*Root, error) {
	fd, err := unix.Open(dest, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dest, Err: err}
	}
	r := &Root{fd: fd, path: dest, opts: opts, dirs: newDirTimesLog(opts.TempDir), foreign: map[inodeKey]struct{}{}}
	if len(opts.UIDMaps) > 0 || len(opts.GIDMaps) > 0 {
		r.mapped = true
		r.rootPair = idtools.NewIDMappingsFromMaps(opts.UIDMaps, opts.GIDMaps).RootPair()
	}
	// Probe openat2 now: there is no userspace fallback, so fail early on
	// kernels without it rather than on the first entry.
	probe, err := openat2(fd, ".", unix.O_PATH|unix.O_DIRECTORY, resolveFlags)
	if err != nil {
		_ = unix.Close(fd)
		return nil, &os.PathError{Op: "openat2", Path: dest, Err: err}
	}
	_ = unix.Close(probe)
	if opts.ForceMask != nil {
		if err := r.overrideRootStat(); err != nil {
			_ = unix.Close(fd)
			return nil, err
		}
	}
	return r, nil
}

func (r *Root) overrideRootStat() error {
	fd, err := unix.Openat(r.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: r.path, Err: err}
	}
	defer closeFD(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "fstat", Path: r.path, Err: err}
	}
	value := idtools.FormatContainersOverrideXattrDevice(int(st.Uid), int(st.Gid),
		os.ModeDir|fileMode(int64(st.Mode&0o7777)), 0, 0)
	if err := unix.Fsetxattr(fd, OverrideStatXattr, []byte(value), 0); err != nil {
		return &os.PathError{Op: "fsetxattr " + OverrideStatXattr, Path: r.path, Err: err}
	}
	return nil
}

// Path is the destination directory given to Open.
func (r *Root) Path() string { return r.path }

// Close releases the destination fd and the directory times not restored
// (a spool file beyond a constant: see dirTimesLog).
func (r *Root) Close() error {
	r.mu.Lock()
	derr := r.dirs.close()
	r.mu.Unlock()
	if r.fd < 0 {
		return derr
	}
	err := unix.Close(r.fd)
	r.fd = -1
	return errors.Join(err, derr)
}

// TempDir is where the root and the name binding spool what outgrows
// memory (Options.TempDir, os.TempDir() when empty).
func (r *Root) TempDir() string {
	if r.opts.TempDir == "" {
		return os.TempDir()
	}
	return r.opts.TempDir
}

// RootDirMode is the mode a root entry ("/" or "./") set, nil if none was
// applied (the differ's RootDirMode output).
func (r *Root) RootDirMode() *os.FileMode {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rootMode
}

// OpenForRead opens the regular file name for reading, in-root and without
// following any symlink, for reassembling the tar stream.
func (r *Root) OpenForRead(name string) (*os.File, error) {
	clean, err := cleanName(name)
	if err != nil {
		return nil, err
	}
	if clean == "" {
		return nil, &ConflictError{Name: name, Reason: "the root is not a regular file"}
	}
	// O_PATH first: opening a planted fifo for reading would block.
	pfd, err := openat2(r.fd, clean, unix.O_PATH, resolveFlags)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) {
			return nil, &InsecurePathError{Name: name, Reason: "path crosses or is a symlink"}
		}
		return nil, entryErr(clean, "open", err)
	}
	defer closeFD(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return nil, entryErr(clean, "fstat", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &ConflictError{Name: clean, Reason: fmt.Sprintf("not a regular file (mode %#o)", st.Mode)}
	}
	fd, err := unix.Open(procFD(pfd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, entryErr(clean, "reopen", err)
	}
	return os.NewFile(uintptr(fd), clean), nil
}

func procFD(fd int) string { return fmt.Sprintf("/proc/self/fd/%d", fd) }
