//go:build linux || darwin || freebsd

package spool

import (
	"math"

	"golang.org/x/sys/unix"
)

// freeBytes is what an unprivileged writer may still use in dir's file
// system (f_bavail, not f_bfree).
func freeBytes(dir string) (uint64, bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false, err
	}
	return Available(&st), true, nil
}

// Available is the bytes an unprivileged writer may still use according to
// st (f_bavail × f_bsize), saturating instead of overflowing.
func Available(st *unix.Statfs_t) uint64 {
	bavail, bsize := uint64(st.Bavail), uint64(st.Bsize) //nolint:gosec,unconvert // int64 on freebsd, never negative
	if bsize > 0 && bavail > math.MaxUint64/bsize {
		return math.MaxUint64
	}
	return bavail * bsize
}
