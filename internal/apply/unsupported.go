//go:build !linux

package apply

import (
	"errors"
	"fmt"
	"hash"
	"os"
	"runtime"

	"github.com/chunkdiff/chunkdiff/formats/toc"
)

// errPlatform is why nothing can be applied here: every entry is created
// through openat2 (Linux 5.6+), with no equally safe fallback elsewhere.
var errPlatform = fmt.Errorf("applying layers needs Linux (openat2), not %s: %w", runtime.GOOS, errors.ErrUnsupported)

// Supported reports why this platform cannot apply layers. Callers (the
// differ) check it before anything else and fall back to an ordinary pull,
// so the stubs below are never reached in practice.
func Supported() error { return errPlatform }

// Root is an open destination directory; on this platform none can be
// opened.
type Root struct{}

func Open(string, Options) (*Root, error)                { return nil, errPlatform }
func SameAttrs(*os.File, *toc.Entry) (bool, error)       { return false, errPlatform }
func CopyContent(*os.File, *os.File) (CopyMethod, error) { return UserCopy, errPlatform }
func (r *Root) Path() string                             { return "" }
func (r *Root) TempDir() string                          { return "" }
func (r *Root) Close() error                             { return nil }
func (r *Root) RootDirMode() *os.FileMode                { return nil }
func (r *Root) OpenForRead(string) (*os.File, error)     { return nil, errPlatform }
func (r *Root) CheckFits(uint64) error                   { return errPlatform }
func (r *Root) FinishDirs() error                        { return errPlatform }
func (r *Root) Dir(*toc.Entry) error                     { return errPlatform }
func (r *Root) CreateFile(*toc.Entry) (*os.File, error)  { return nil, errPlatform }
func (r *Root) FinishFile(*toc.Entry, *os.File) error    { return errPlatform }
func (r *Root) EmptyFile(*toc.Entry) error               { return errPlatform }
func (r *Root) Symlink(*toc.Entry) error                 { return errPlatform }
func (r *Root) Device(*toc.Entry) error                  { return errPlatform }
func (r *Root) Hardlink(*toc.Entry) error                { return errPlatform }
func (r *Root) Target(*toc.Entry) (toc.Entry, error)     { return toc.Entry{}, errPlatform }
func (r *Root) LinkFile(*toc.Entry, *os.File) error      { return errPlatform }
func (r *Root) Whiteout(*toc.Entry) (bool, error)        { return false, errPlatform }

func CopyVerified(*os.File, *os.File, int64, hash.Hash, []byte) (CopyMethod, error) {
	return UserCopy, errPlatform
}
func (r *Root) DiscardFile(*toc.Entry, *os.File) error { return errPlatform }
