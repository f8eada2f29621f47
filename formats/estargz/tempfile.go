package estargz

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// openTemp opens an anonymous file in dir: O_TMPFILE where the file system
// supports it, else create + unlink, so nothing is left behind even if the
// process dies.
func openTemp(dir string) (*os.File, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.OpenFile(dir, unix.O_TMPFILE|os.O_RDWR|unix.O_CLOEXEC|os.O_EXCL, 0o600)
	if err == nil {
		return f, nil
	}
	f, err = os.CreateTemp(dir, ".estargz-toc-")
	if err != nil {
		return nil, fmt.Errorf("creating temp file in %s: %w", dir, err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("unlinking temp file: %w", err)
	}
	return f, nil
}
