package main

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockOut makes runs sharing an output directory take turns, deletion of
// the old stores included: a run measured while another deletes its trash
// would pay for ext4's recently-deleted inodes (see trash.go). The lock is
// released when the process exits; the caller keeps the file reachable
// until then (runtime.KeepAlive): a collected *os.File closes its
// descriptor, and with it the lock.
func lockOut(out string) (*os.File, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(out, "sidebyside.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err == nil {
		return f, nil
	}
	logf("another sidebyside run uses %s (measuring or deleting its stores); waiting for it", out)
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	return f, nil
}
