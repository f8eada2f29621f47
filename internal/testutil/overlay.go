package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

var (
	overlayOnce sync.Once
	overlayErr  error
)

// RequireOverlay skips the test unless it runs as root and the kernel can
// mount overlayfs here. With CI=true it fails instead: CI must run them.
func RequireOverlay(tb testing.TB) {
	tb.Helper()
	overlayOnce.Do(func() { overlayErr = probeOverlay() })
	if overlayErr == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("overlay store tests cannot run (CI=true forbids skipping): %v", overlayErr)
	}
	tb.Skipf("overlay store tests need root and overlayfs: %v", overlayErr)
}

// probeOverlay mounts a throwaway overlay on the filesystem os.TempDir is on,
// which is where the test stores live.
func probeOverlay() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("not root (euid %d)", os.Geteuid())
	}
	dir, err := os.MkdirTemp("", "overlay-probe-")
	if err != nil {
		return fmt.Errorf("probe dir: %w", err)
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			return fmt.Errorf("probe dir: %w", err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s/lower,upperdir=%s/upper,workdir=%s/work", dir, dir, dir)
	merged := filepath.Join(dir, "merged")
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay: %w", err)
	}
	if err := unix.Unmount(merged, 0); err != nil {
		return fmt.Errorf("unmount overlay probe: %w", err)
	}
	return nil
}
