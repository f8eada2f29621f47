//go:build !linux

package spool

import (
	"errors"
	"os"
)

// openTmpfile: O_TMPFILE is Linux's; elsewhere Open creates and unlinks.
func openTmpfile(string) (*os.File, error) {
	return nil, errors.ErrUnsupported
}
