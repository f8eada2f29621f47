package index

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

const fileExt = ".cdx"

// layerFile is one layer's index file, verified and mapped read-only.
type layerFile struct {
	id    string
	dir   string // the layer's diff directory
	kind  Kind
	data  []byte // the whole mapping; nil once unmapped
	bloom []byte
	fan   []byte
	recs  []byte
	strs  []byte
	n     int
}

func indexPath(dir, layerID string) string {
	return filepath.Join(dir, layerID+fileExt)
}

// loadFile verifies p (header, sizes, checksum, layer ID, fingerprint) and
// maps it. Any mismatch is an error wrapping ErrCorrupt, ErrVersion or
// ErrStale; a missing file is an fs.ErrNotExist error.
func loadFile(p, layerID, fingerprint string, buf []byte) (*layerFile, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h, err := verify(f, st.Size(), buf)
	if err != nil {
		return nil, err
	}
	if h.layerID != layerID {
		return nil, fmt.Errorf("%w: built for layer %q", ErrStale, h.layerID)
	}
	if h.fingerprint != fingerprint {
		return nil, fmt.Errorf("%w: fingerprint %q, layer now %q", ErrStale, h.fingerprint, fingerprint)
	}
	// The file is never modified in place (writers rename a new one over
	// it), so what we verified through f is what we map.
	data, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", p, err)
	}
	// Lookups jump around: read-ahead would only inflate the resident size.
	_ = unix.Madvise(data, unix.MADV_RANDOM)
	lf := &layerFile{
		id:    layerID,
		kind:  h.kind,
		data:  data,
		bloom: data[h.bloomAt : h.bloomAt+h.blocks*blockSize],
		fan:   data[h.recordsAt-fanoutSize : h.recordsAt],
		recs:  data[h.recordsAt:h.stringsAt],
		strs:  data[h.stringsAt : h.stringsAt+h.stringsLen],
		n:     int(h.n),
	}
	return lf, nil
}

func (lf *layerFile) unmap() error {
	if lf.data == nil {
		return nil
	}
	err := unix.Munmap(lf.data)
	lf.data, lf.bloom, lf.fan, lf.recs, lf.strs = nil, nil, nil, nil, nil
	return err
}

// writeFile writes a layer's index atomically: a temporary file in dir,
// fsynced, renamed over the final name.
func writeFile(dir, layerID, fingerprint string, kind Kind, recs []record, strs []byte) (err error) {
	tmp, err := os.CreateTemp(dir, ".tmp-"+layerID+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = encode(tmp, kind, layerID, fingerprint, recs, strs); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), indexPath(dir, layerID))
}
