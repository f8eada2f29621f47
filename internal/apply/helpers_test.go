package apply

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"go.podman.io/storage/pkg/archive"
)

func requireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root (chown, mknod, trusted.* xattrs)")
	}
}

// tocType maps tar typeflags to TOC entry types (FORMATS.md "toc-schema").
var tocType = map[byte]string{
	tar.TypeReg: toc.TypeReg, tar.TypeLink: toc.TypeHardlink, tar.TypeSymlink: toc.TypeSymlink,
	tar.TypeChar: toc.TypeChar, tar.TypeBlock: toc.TypeBlock, tar.TypeDir: toc.TypeDir,
	tar.TypeFifo: toc.TypeFifo,
}

// entryFromHeader converts a tar header the way the zstd:chunked writer
// does: raw mode, xattrs from SCHILY.xattr PAX records, base64 values.
func entryFromHeader(tb testing.TB, h *tar.Header) toc.Entry {
	tb.Helper()
	typ, ok := tocType[h.Typeflag]
	if !ok {
		tb.Fatalf("%s: unsupported typeflag %q", h.Name, h.Typeflag)
	}
	e := toc.Entry{
		Type: typ, Name: h.Name, LinkName: h.Linkname, Mode: h.Mode, Size: h.Size,
		UID: h.Uid, GID: h.Gid, ModTime: h.ModTime, AccessTime: h.AccessTime, ChangeTime: h.ChangeTime,
		DevMajor: h.Devmajor, DevMinor: h.Devminor,
	}
	for k, v := range h.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if e.Xattrs == nil {
				e.Xattrs = map[string]string{}
			}
			e.Xattrs[name] = base64.StdEncoding.EncodeToString([]byte(v))
		}
	}
	return e
}

// applyEntry dispatches one entry as the differ does (hard links are the
// caller's to defer).
func applyEntry(r *Root, e *toc.Entry, data io.Reader) error {
	if handled, err := r.Whiteout(e); handled || err != nil {
		return err
	}
	switch e.Type {
	case toc.TypeDir:
		return r.Dir(e)
	case toc.TypeReg:
		if e.Size == 0 {
			return r.EmptyFile(e)
		}
		f, err := r.CreateFile(e)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, data); err != nil {
			_ = f.Close()
			return err
		}
		return r.FinishFile(e, f)
	case toc.TypeSymlink:
		return r.Symlink(e)
	case toc.TypeChar, toc.TypeBlock, toc.TypeFifo:
		return r.Device(e)
	case toc.TypeHardlink:
		return r.Hardlink(e)
	}
	return errors.New("unknown type " + e.Type)
}

// applyTar extracts a tar with this package, hard links last.
func applyTar(tb testing.TB, dest string, tarBytes []byte, opts Options) error {
	tb.Helper()
	r, err := Open(dest, opts)
	if err != nil {
		return err
	}
	defer r.Close()
	tr := tar.NewReader(bytes.NewReader(tarBytes))
	var links []toc.Entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		e := entryFromHeader(tb, h)
		if e.Type == toc.TypeHardlink {
			links = append(links, e)
			continue
		}
		if err := applyEntry(r, &e, tr); err != nil {
			return err
		}
	}
	for i := range links {
		if err := applyEntry(r, &links[i], nil); err != nil {
			return err
		}
	}
	return r.FinishDirs()
}

// unpack extracts with the ordinary-pull code (in-process, no chroot).
func unpack(tb testing.TB, dest string, tarBytes []byte, opts *archive.TarOptions) {
	tb.Helper()
	if err := archive.Unpack(bytes.NewReader(tarBytes), dest, opts); err != nil {
		tb.Fatalf("archive.Unpack: %v", err)
	}
}

// jail is a destination with sentinels beside it and in its parent, to
// prove hostile input changed nothing outside.
type jail struct {
	dest, sentinelDir, sentinelFile string
	before                          map[string]testutil.FileInfo
}

func newJail(tb testing.TB) *jail {
	tb.Helper()
	base := tb.TempDir()
	j := &jail{
		dest:         filepath.Join(base, "dest"),
		sentinelDir:  filepath.Join(base, "sentinel"),
		sentinelFile: filepath.Join(base, "sentinel.txt"),
	}
	for _, d := range []string{j.dest, j.sentinelDir, filepath.Join(j.sentinelDir, "etc")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	for _, f := range []string{j.sentinelFile, filepath.Join(j.sentinelDir, "etc", "passwd")} {
		if err := os.WriteFile(f, []byte("sentinel\n"), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	j.before = j.outside(tb)
	return j
}

// outside snapshots everything in the jail's base except dest's contents.
func (j *jail) outside(tb testing.TB) map[string]testutil.FileInfo {
	tb.Helper()
	s := testutil.Snapshot(tb, filepath.Dir(j.dest))
	for k := range s {
		if strings.HasPrefix(k, "dest/") {
			delete(s, k)
		}
	}
	return s
}

func (j *jail) check(tb testing.TB) {
	tb.Helper()
	// dest's own mtime changes legitimately; its contents are excluded.
	if d := testutil.Diff(j.before, j.outside(tb), testutil.IgnorePath("dest")); len(d) > 0 {
		tb.Errorf("outside dest changed:\n%s", strings.Join(d, "\n"))
	}
}
