package apply

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/idtools"
	"golang.org/x/sys/unix"
)

// compareWithUnpack extracts tarBytes with archive.Unpack (the ordinary
// pull, in-process) and with this package, and requires equal trees,
// directory mtimes and xattrs included. It returns both destinations.
func compareWithUnpack(t *testing.T, tarBytes []byte, topts archive.TarOptions, opts Options, dopts ...testutil.DiffOption) (ref, got string) {
	t.Helper()
	ref, got = t.TempDir(), t.TempDir()
	unpack(t, ref, tarBytes, &topts)
	if err := applyTar(t, got, tarBytes, opts); err != nil {
		t.Fatalf("apply: %v", err)
	}
	want, have := testutil.Snapshot(t, ref), testutil.Snapshot(t, got)
	if len(want) == 0 {
		t.Fatal("empty reference tree")
	}
	if d := testutil.Diff(want, have, dopts...); len(d) > 0 {
		t.Errorf("tree differs from archive.Unpack (first = Unpack):\n%s", strings.Join(d, "\n"))
	}
	return ref, got
}

func withRoot(entries []testutil.Entry) []testutil.Entry {
	root := testutil.Entry{Header: &tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755, Uid: 0, Gid: 0,
		ModTime: entries[0].Header.ModTime}}
	return append([]testutil.Entry{root}, entries...)
}

func TestCompareRichTree(t *testing.T) {
	requireRoot(t)
	tarBytes := testutil.TarBytes(t, withRoot(testutil.RichTree(1)))
	ref, got := compareWithUnpack(t, tarBytes, archive.TarOptions{}, Options{})
	compareRoot(t, ref, got)
}

func TestCompareIDMaps(t *testing.T) {
	requireRoot(t)
	maps := []idtools.IDMap{{ContainerID: 0, HostID: 100000, Size: 1 << 20}}
	tarBytes := testutil.TarBytes(t, testutil.RichTree(2))
	_, got := compareWithUnpack(t, tarBytes,
		archive.TarOptions{UIDMaps: maps, GIDMaps: maps},
		Options{UIDMaps: maps, GIDMaps: maps})
	// RichTree's home/user is 123456:654321 in the container.
	wantStat(t, filepath.Join(got, "home/user"), unix.S_IFDIR, 0o700, 223456, 754321, time.Time{})
}

func TestCompareChownOpts(t *testing.T) {
	requireRoot(t)
	tarBytes := testutil.TarBytes(t, testutil.RichTree(3))
	chown := &idtools.IDPair{UID: 4321, GID: 8765}
	compareWithUnpack(t, tarBytes, archive.TarOptions{ChownOpts: chown}, Options{ChownOpts: chown})
	// With mappings too, pkg/archive maps ChownOpts container→host.
	maps := []idtools.IDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}
	_, got := compareWithUnpack(t, tarBytes,
		archive.TarOptions{ChownOpts: chown, UIDMaps: maps, GIDMaps: maps},
		Options{ChownOpts: chown, UIDMaps: maps, GIDMaps: maps})
	wantStat(t, filepath.Join(got, "home/user/.profile"), unix.S_IFREG, 0o644, 104321, 108765, time.Time{})
}

func TestCompareForceMask(t *testing.T) {
	requireRoot(t)
	mask := os.FileMode(0o700)
	maps := []idtools.IDMap{{ContainerID: 0, HostID: 100000, Size: 1 << 20}}
	tarBytes := testutil.TarBytes(t, withRoot(testutil.RichTree(4)))
	ref, got := compareWithUnpack(t, tarBytes,
		archive.TarOptions{ForceMask: &mask, UIDMaps: maps, GIDMaps: maps},
		Options{ForceMask: &mask, UIDMaps: maps, GIDMaps: maps})
	compareRoot(t, ref, got)
	// Spot-check the reference itself so a shared mistake cannot pass.
	wantXattr(t, filepath.Join(got, "usr/bin/suid"), OverrideStatXattr, "100000:100000:4755:file")
	wantXattr(t, filepath.Join(got, "dev/null"), OverrideStatXattr, "100000:100000:0666:char-1-3")
	wantXattr(t, filepath.Join(got, "dev/fifo"), OverrideStatXattr, "100033:100033:0640:pipe")
	wantXattr(t, filepath.Join(got, "tmp"), OverrideStatXattr, "100000:100000:1777:dir")
	wantXattr(t, got, OverrideStatXattr, "100000:100000:0755:dir")
	st, err := idtools.GetContainersOverrideXattr(filepath.Join(got, "home/user"))
	if err != nil || st.IDs.UID != 223456 || st.Mode != os.ModeDir|0o700 {
		t.Errorf("reader sees %+v, %v", st, err)
	}
}

// compareRoot compares what a root entry did to both destinations.
func compareRoot(t *testing.T, ref, got string) {
	t.Helper()
	a, b := testutil.Snapshot(t, filepath.Dir(ref)), testutil.Snapshot(t, filepath.Dir(got))
	ra, rb := a[filepath.Base(ref)], b[filepath.Base(got)]
	ra.ModTime, rb.ModTime = ra.ModTime.UTC(), rb.ModTime.UTC()
	if d := testutil.Diff(map[string]testutil.FileInfo{"root": ra}, map[string]testutil.FileInfo{"root": rb}); len(d) > 0 {
		t.Errorf("root differs:\n%s", strings.Join(d, "\n"))
	}
}

func TestCompareWhiteouts(t *testing.T) {
	requireRoot(t)
	base := testutil.RichTree(5)
	added := []testutil.Entry{{Header: &tar.Header{Typeflag: tar.TypeReg, Name: "etc/new", Mode: 0o644, ModTime: t0}, Data: []byte("n")}}
	entries := testutil.Whiteouts(base, []string{"etc/config", "usr/bin/big", "dev"}, []string{"usr/lib"}, added)
	// A whiteout under a deleted directory: upstream ignores the ENOTDIR.
	entries = append(entries, testutil.Whiteout("dev/null"))
	tarBytes := testutil.TarBytes(t, entries)

	// Whiteout devices and implicit parents are stamped "now" by both, so
	// their times cannot match; everything else about them is checked.
	_, got := compareWithUnpack(t, tarBytes,
		archive.TarOptions{WhiteoutFormat: archive.OverlayWhiteoutFormat},
		Options{WhiteoutFormat: archive.OverlayWhiteoutFormat},
		testutil.IgnorePath("etc/config"), testutil.IgnorePath("usr/bin/big"), testutil.IgnorePath("dev"))
	for _, p := range []string{"etc/config", "usr/bin/big", "dev"} {
		st := lstat(t, filepath.Join(got, p))
		if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 || st.Uid != 0 || st.Gid != 0 {
			t.Errorf("%s: mode %#o rdev %d owner %d:%d, want a 0:0 char device owned by root", p, st.Mode, st.Rdev, st.Uid, st.Gid)
		}
	}
	wantXattr(t, filepath.Join(got, "usr/lib"), "trusted.overlay.opaque", "y")
	if _, err := os.Lstat(filepath.Join(got, "usr/lib/.wh..wh..opq")); !os.IsNotExist(err) {
		t.Errorf("opaque marker written as a file: %v", err)
	}

	// AUFS (the default) and any other format keep them as plain files.
	_, got = compareWithUnpack(t, tarBytes, archive.TarOptions{}, Options{}, testutil.IgnorePath("dev"))
	for _, p := range []string{"etc/.wh.config", "usr/lib/.wh..wh..opq", ".wh.dev"} {
		wantStat(t, filepath.Join(got, p), unix.S_IFREG, 0o644, 0, 0, time.Time{})
	}
}
