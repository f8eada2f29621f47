//go:build linux

package apply

import (
	"errors"
	"path"
	"strings"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"go.podman.io/storage/pkg/archive"
	"golang.org/x/sys/unix"
)

// Whiteout converts an AUFS whiteout entry to the overlay format and
// reports whether it did (the entry must then not be written). With any
// other format it does nothing: whiteouts are then ordinary files.
//
//   - ".wh..wh..opq" sets <overlay>.opaque = "y" on its directory.
//   - ".wh.NAME" creates NAME as a 0:0 char device owned by the entry's
//     (mapped) IDs; a parent that is itself a whiteout device is ignored, as
//     upstream does for "rm -rf a" layers that also list "a/.wh.b".
func (r *Root) Whiteout(e *toc.Entry) (bool, error) {
	if r.opts.WhiteoutFormat != archive.OverlayWhiteoutFormat || !IsWhiteout(e.Name) {
		return false, nil
	}
	name, err := cleanName(e.Name)
	if err != nil {
		return false, err
	}
	t, err := r.opts.Transform(e)
	if err != nil {
		return false, err
	}
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if base == archive.WhiteoutOpaqueDir {
		return true, r.setOpaque(name, dir)
	}
	orig := strings.TrimPrefix(base, archive.WhiteoutPrefix)
	if orig == "" || orig == "." || orig == ".." {
		return false, &InsecurePathError{Name: e.Name, Reason: "invalid whiteout target"}
	}
	parent, err := r.openDir(name, dir, true)
	if errors.Is(err, unix.ENOTDIR) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer parent.close()
	target := path.Join(dir, orig)
	if err := unix.Mknodat(parent.fd, orig, unix.S_IFCHR, 0); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return false, &ConflictError{Name: target, Reason: "whiteout target already exists", Err: err}
		}
		return false, entryErr(target, "mknodat", err)
	}
	// pkg/archive chowns whiteouts even under ForceMask.
	if err := unix.Fchownat(parent.fd, orig, t.UID, t.GID, unix.AT_SYMLINK_NOFOLLOW); err != nil && !r.opts.IgnoreChownErrors {
		return false, entryErr(target, "chown", err)
	}
	return true, nil
}

func (r *Root) setOpaque(entry, dir string) error {
	d, err := r.openDir(entry, dir, true)
	if err != nil {
		return err
	}
	defer d.close()
	attr := "trusted.overlay.opaque"
	if r.opts.Rootless {
		attr = "user.overlay.opaque"
	}
	if err := unix.Setxattr(procFD(d.fd), attr, []byte{'y'}, 0); err != nil {
		return entryErr(entry, "setxattr "+attr, err)
	}
	return nil
}
