package testutil

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// SmallTmpfs mounts a tmpfs of size (e.g. "64k") for the test's duration
// and returns its path: a file system that fills up, for ENOSPC paths.
// Mounting needs root; without it the test is skipped, except under CI,
// which runs as root and must not skip.
func SmallTmpfs(tb testing.TB, size string) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("mounting a tmpfs (CI=true forbids skipping): %v", err)
		}
		tb.Skipf("mounting a tmpfs needs root: %v", err)
	}
	tb.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// FreeBlocks returns the free blocks of dir's file system.
func FreeBlocks(tb testing.TB, dir string) uint64 {
	tb.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		tb.Fatal(err)
	}
	return st.Bfree
}
