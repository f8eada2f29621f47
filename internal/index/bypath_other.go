//go:build !linux

package index

import "errors"

// openPathLayer: lookups beneath a directory need openat2 (Linux); elsewhere
// such layers are left out, as a layer that cannot be indexed is.
func openPathLayer(id, _ string) (*pathLayer, error) {
	return nil, &LayerError{Layer: id, Op: "dir", Err: errors.ErrUnsupported}
}

func (pl *pathLayer) stat(string) (int64, bool) { return 0, false }
func (pl *pathLayer) close() error              { return nil }
