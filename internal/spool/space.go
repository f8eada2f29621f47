package spool

import (
	"fmt"
	"os"
)

// NoSpaceError reports a temp dir whose file system cannot hold what is
// about to be spooled there, found before anything is written.
type NoSpaceError struct {
	Dir        string
	Need, Free uint64
}

func (e *NoSpaceError) Error() string {
	return fmt.Sprintf("the temp dir %s has %d bytes free, %d are needed to spool the layer's metadata (set TMPDIR or the temp dir option to a larger file system)", e.Dir, e.Free, e.Need)
}

// CheckFree returns a *NoSpaceError when dir's file system (os.TempDir() if
// dir is empty) has fewer than need bytes available to us. It checks
// plausibility, not a reservation: others may write there meanwhile, and a
// spool that still runs short fails with the write error.
func CheckFree(dir string, need uint64) error {
	if dir == "" {
		dir = os.TempDir()
	}
	free, ok, err := freeBytes(dir)
	if err != nil {
		return fmt.Errorf("spool temp dir %s: %w", dir, err)
	}
	if ok && need > free {
		return &NoSpaceError{Dir: dir, Need: need, Free: free}
	}
	return nil
}
