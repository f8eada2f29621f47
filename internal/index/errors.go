package index

import (
	"errors"
	"fmt"
)

// Reasons an index file is not used as is. Each is wrapped, with details, in
// the error a LayerError carries for the "load" operation.
var (
	// ErrCorrupt: bad magic, inconsistent sizes, truncated, or a checksum
	// mismatch.
	ErrCorrupt = errors.New("corrupt index file")
	// ErrVersion: written by another version of this package.
	ErrVersion = errors.New("unsupported index file version")
	// ErrStale: another layer ID, or built from something else than what
	// the store now records for the layer.
	ErrStale = errors.New("stale index file")
	// ErrTooLarge: a layer's paths exceed what the format can address.
	ErrTooLarge = errors.New("layer too large for the index format")
)

// LayerError reports a per-layer failure. These never make Open fail: the
// layer is rebuilt, or left out of the index (upstream's layers cache does the same, BEHAVIOUR.md "reuse").
type LayerError struct {
	Layer string
	// Op is "load" (an existing file was rejected and rebuilt), "build",
	// "write" or "dir" (the store gave no diff directory).
	Op  string
	Err error
}

func (e *LayerError) Error() string {
	return fmt.Sprintf("index: layer %s: %s: %v", e.Layer, e.Op, e.Err)
}

func (e *LayerError) Unwrap() error { return e.Err }
