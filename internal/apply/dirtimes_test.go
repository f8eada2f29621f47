package apply

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"golang.org/x/sys/unix"
)

// smallDirTimes makes the directory times map hold about n short names for
// the test's duration, so a few directories cross the spill boundary.
func smallDirTimes(t *testing.T, n int) {
	old := dirTimesMemBytes
	dirTimesMemBytes = n * (dirTimesOverhead + 8)
	t.Cleanup(func() { dirTimesMemBytes = old })
}

// Times are restored whether a directory stayed in memory or was spooled,
// the last of two entries for one directory wins on either side, and the
// spool is gone once FinishDirs is done.
func TestDirTimesAcrossSpill(t *testing.T) {
	requireRoot(t)
	smallDirTimes(t, 3)
	dest, tmp := t.TempDir(), t.TempDir()
	r := mustOpen(t, dest, Options{TempDir: tmp})
	want := map[string]time.Time{}
	dir := func(name string, mtime time.Time) {
		t.Helper()
		must(t, r.Dir(&toc.Entry{Type: toc.TypeDir, Name: name, Mode: 0o755, ModTime: mtime}))
		want[strings.Trim(filepath.Clean("/"+name), "/")] = mtime
	}
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Hour) }
	dir("d0", at(100)) // kept in memory, given again below
	for i := 1; i < 10; i++ {
		dir(fmt.Sprintf("d%d", i), at(i))
		dir(fmt.Sprintf("d%d/sub", i), at(i+50))
	}
	if r.dirs.f == nil {
		t.Fatal("nothing spooled: the test does not cross the boundary")
	}
	dir("./d0/", at(200)) // in memory: replaced in place
	dir("d7/", at(300))   // spooled twice: the later record wins
	dir("./", at(400))    // the root, spooled
	for i := range 10 {
		writeFile(t, r, &toc.Entry{Type: toc.TypeReg, Name: fmt.Sprintf("d%d/f", i), Mode: 0o644, Size: 1, ModTime: t1}, "x")
	}
	must(t, r.FinishDirs())
	if r.dirs.f != nil {
		t.Error("spool kept after FinishDirs")
	}
	for name, mtime := range want {
		var st unix.Stat_t
		must(t, unix.Lstat(filepath.Join(dest, name), &st))
		if got := time.Unix(st.Mtim.Unix()); !got.Equal(mtime) {
			t.Errorf("%q: mtime %v, want %v", name, got, mtime)
		}
	}
	if m := r.RootDirMode(); m == nil {
		t.Error("root entry: no RootDirMode")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temp dir not empty: %v", left)
	}
}

// A temp dir that cannot hold the spool fails the directory entry that
// needed it, naming the entry and the cause.
func TestDirTimesTempDirUnusable(t *testing.T) {
	requireRoot(t)
	smallDirTimes(t, 2)
	notDir := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(notDir, nil, 0o600))
	r := mustOpen(t, t.TempDir(), Options{TempDir: notDir})
	var err error
	for i := 0; i < 5 && err == nil; i++ {
		err = r.Dir(&toc.Entry{Type: toc.TypeDir, Name: fmt.Sprint("d", i), Mode: 0o755, ModTime: t0})
	}
	var ee *EntryError
	if !errors.As(err, &ee) || !errors.Is(err, syscall.ENOTDIR) || !strings.Contains(err.Error(), notDir) {
		t.Fatalf("spool in a file: %v, want an EntryError wrapping ENOTDIR naming %s", err, notDir)
	}
}

// A full temp file system fails the directory entry whose record does
// not fit with ENOSPC, and the spool's space comes back with FinishDirs
// (which fails too) or Close.
func TestDirTimesDiskFull(t *testing.T) {
	requireRoot(t)
	smallDirTimes(t, 2)
	for _, finish := range []bool{true, false} {
		tmp := testutil.SmallTmpfs(t, "64k")
		before := testutil.FreeBlocks(t, tmp)
		r := mustOpen(t, t.TempDir(), Options{TempDir: tmp})
		long := strings.Repeat("n", 200)
		var err error
		for i := 0; i < 2000 && err == nil; i++ {
			err = r.Dir(&toc.Entry{Type: toc.TypeDir, Name: fmt.Sprintf("%s%d", long, i), Mode: 0o755, ModTime: t0})
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("400 KiB of records in 64 KiB: %v, want ENOSPC", err)
		}
		if finish {
			if err := r.FinishDirs(); !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("FinishDirs after a failed record: %v, want ENOSPC", err)
			}
		}
		must(t, r.Close())
		if after := testutil.FreeBlocks(t, tmp); after != before {
			t.Errorf("finish=%v: %d blocks free after, %d before", finish, after, before)
		}
	}
}

// The log's memory does not grow with the directory count: 16× the
// directories, about the same heap in use.
func TestDirTimesMemory(t *testing.T) {
	inUse := func(n int) uint64 {
		l := newDirTimesLog(t.TempDir())
		defer l.close()
		var ts [2]unix.Timespec
		for i := range n {
			if err := l.set(fmt.Sprintf("some/dir/name/%09d", i), ts); err != nil {
				t.Fatal(err)
			}
		}
		heap := testutil.HeapInUse()
		runtime.KeepAlive(l)
		return heap
	}
	small, big := inUse(40000), inUse(640000)
	// 600k more names in a map would be over 50 MiB more.
	if big > small+4<<20 {
		t.Errorf("heap in use: %d KiB with 40k directories, %d KiB with 640k", small>>10, big>>10)
	}
}
