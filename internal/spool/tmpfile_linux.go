package spool

import (
	"os"

	"golang.org/x/sys/unix"
)

// openTmpfile opens an O_TMPFILE file in dir: it never has a name.
func openTmpfile(dir string) (*os.File, error) {
	return os.OpenFile(dir, unix.O_TMPFILE|os.O_RDWR|unix.O_CLOEXEC|os.O_EXCL, 0o600)
}
