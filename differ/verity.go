package differ

import (
	"errors"
	"fmt"
	"path"
	"sync"

	"github.com/chunkdiff/chunkdiff/internal/apply"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/fsverity"
	"golang.org/x/sys/unix"
)

// verityRecorder enables and measures fs-verity on every regular file
// written, as composefs needs; the digests go to the output's Artifacts.
type verityRecorder struct {
	mode    graphdriver.DifferFsVerity
	mu      sync.Mutex
	digests map[string]string // "/" + cleaned name → hex digest
}

func newVerityRecorder(mode graphdriver.DifferFsVerity) *verityRecorder {
	if mode == graphdriver.DifferFsVerityDisabled {
		return nil
	}
	return &verityRecorder{mode: mode, digests: map[string]string{}}
}

// record enables verity on name (already closed for writing) and measures it.
// With IfAvailable a filesystem without fs-verity is not an error.
func (v *verityRecorder) record(root *apply.Root, name string) error {
	f, err := root.OpenForRead(name)
	if err != nil {
		return fmt.Errorf("fs-verity: %w", err)
	}
	defer f.Close()
	if err := fsverity.EnableVerity(name, int(f.Fd())); err != nil {
		if v.mode == graphdriver.DifferFsVerityIfAvailable && (errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.ENOTTY)) {
			return nil
		}
		return err
	}
	d, err := fsverity.MeasureVerity(name, int(f.Fd()))
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.digests[path.Clean("/"+name)] = d
	v.mu.Unlock()
	return nil
}

func (v *verityRecorder) result() map[string]string {
	if v == nil {
		return map[string]string{}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]string, len(v.digests))
	for k, d := range v.digests {
		out[k] = d
	}
	return out
}
