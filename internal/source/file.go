package source

import (
	"fmt"
	"os"
)

// File is a ReaderAt backed by an open local file.
type File struct {
	*ReaderAt
	f *os.File
}

// OpenFile opens path and serves ranges from it. The size is fixed at open
// time; Close the File when all GetBlobAt responses have been drained.
func OpenFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open blob: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat blob: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("blob %s is not a regular file", path)
	}
	return &File{ReaderAt: NewReaderAt(f, fi.Size()), f: f}, nil
}

// Close closes the underlying file.
func (f *File) Close() error {
	if err := f.f.Close(); err != nil {
		return fmt.Errorf("close blob: %w", err)
	}
	return nil
}
