package testutil

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestSnapshotAndDiff(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	require.NoError(t, os.Mkdir(p("d"), 0o750))
	require.NoError(t, os.WriteFile(p("d/f"), []byte("hello"), 0o640))
	require.NoError(t, os.Link(p("d/f"), p("g")))
	require.NoError(t, os.Symlink("d/f", p("l")))
	require.NoError(t, unix.Mkfifo(p("fifo"), 0o600))
	require.NoError(t, unix.Lsetxattr(p("d/f"), "user.k", []byte("v"), 0))
	mt := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	require.NoError(t, os.Chtimes(p("d"), mt, mt))

	a := Snapshot(t, dir)
	require.Len(t, a, 5)
	f := a["d/f"]
	require.Equal(t, FileInfo{
		Type: "reg", Mode: 0o640, UID: os.Getuid(), GID: os.Getgid(), Size: 5,
		SHA256:    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
		LinkGroup: "d/f", Xattrs: map[string]string{"user.k": "v"}, ModTime: f.ModTime,
	}, f)
	require.Equal(t, "d/f", a["g"].LinkGroup)
	require.Equal(t, "d/f", a["l"].Link)
	require.Equal(t, "fifo", a["fifo"].Type)
	require.True(t, a["d"].ModTime.Equal(mt))
	require.Empty(t, Diff(a, a))

	// Change things and check each shows up once.
	require.NoError(t, unix.Chmod(p("d/f"), 0o4755))
	require.NoError(t, os.Remove(p("fifo")))
	require.NoError(t, os.WriteFile(p("new"), nil, 0o644))
	require.NoError(t, unix.Lsetxattr(p("d/f"), "user.k", []byte("w"), 0))
	require.NoError(t, os.Chtimes(p("d"), mt.Add(time.Second), mt.Add(time.Second)))
	b := Snapshot(t, dir)
	require.Equal(t, []string{
		"d: mtime 2020-01-02T03:04:05.000000006Z != 2020-01-02T03:04:06.000000006Z",
		"d/f: mode 0640 != 04755",
		`d/f: xattr user.k "v" != "w"`,
		"fifo: only in first (fifo)",
		"g: mode 0640 != 04755",
		`g: xattr user.k "v" != "w"`,
		"new: only in second (reg)",
	}, Diff(a, b))
	require.Equal(t, []string{
		"d/f: mode 0640 != 04755",
		"fifo: only in first (fifo)",
		"g: mode 0640 != 04755",
		"new: only in second (reg)",
	}, Diff(a, b, IgnoreDirMtimes(), IgnoreXattrPrefix("user."), IgnorePath("nothing")))
}
