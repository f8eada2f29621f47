// Package loopfs mounts small loop-device filesystems for tests that need
// filesystem features the host's root lacks (fs-verity on ext4, reflinks on
// XFS or btrfs).
package loopfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Mount creates an image of sizeMiB, formats it with mkfs (e.g. "mkfs.ext4"
// with args such as "-O", "verity"), mounts it and returns the mount point,
// unmounted when the test ends. It skips the test without root, loop devices
// or the mkfs tool, except under CI=true, where CI must run it: it fails.
func Mount(tb testing.TB, sizeMiB int64, mkfs string, args ...string) string {
	tb.Helper()
	missing := ""
	switch {
	case os.Geteuid() != 0:
		missing = "root"
	case !exists("/dev/loop-control"):
		missing = "/dev/loop-control"
	}
	if _, err := exec.LookPath(mkfs); err != nil && missing == "" {
		missing = mkfs
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("loop filesystem needs %s (CI must run this test)", missing)
		}
		tb.Skipf("loop filesystem needs %s", missing)
	}
	dir := tb.TempDir()
	img := filepath.Join(dir, "fs.img")
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Create(img)
	if err != nil {
		tb.Fatal(err)
	}
	if err := f.Truncate(sizeMiB << 20); err != nil {
		tb.Fatal(err)
	}
	_ = f.Close()
	run(tb, mkfs, append(append([]string{}, args...), img)...)
	run(tb, "mount", "-o", "loop", img, mnt)
	tb.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			tb.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

func run(tb testing.TB, name string, args ...string) {
	tb.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		tb.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
