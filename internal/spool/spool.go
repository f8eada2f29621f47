// Package spool holds the unlinked temp files data is spooled to (TOCs,
// tar-splits, converted layers), and a writer wrapper telling the spool's
// write errors apart from errors of the stream being copied into it.
package spool

import (
	"fmt"
	"io"
	"os"
)

// Open opens an anonymous read-write file in dir (os.TempDir() if empty):
// O_TMPFILE where the file system supports it, else create + unlink, so
// nothing is left behind even if the process dies. Closing the file frees
// its space.
func Open(dir string) (*os.File, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	if f, err := openTmpfile(dir); err == nil {
		return f, nil
	}
	f, err := os.CreateTemp(dir, ".chunkdiff-spool-")
	if err != nil {
		return nil, fmt.Errorf("creating temp file in %s: %w", dir, err)
	}
	if err := os.Remove(f.Name()); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("unlinking temp file: %w", err)
	}
	return f, nil
}

// WriteError marks an error of the destination MarkWrites wraps, so a copy
// into a spool does not report it as a read or decompression error. It is
// transparent to errors.Is and errors.As.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// MarkWrites returns w with its write errors wrapped in *WriteError.
func MarkWrites(w io.Writer) io.Writer { return markWriter{w} }

type markWriter struct{ w io.Writer }

func (m markWriter) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	if err != nil {
		err = &WriteError{err}
	}
	return n, err
}
