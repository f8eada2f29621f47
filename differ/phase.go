package differ

import (
	"github.com/chunkdiff/chunkdiff/differ/states"
)

// phase is the data valid in one state: one type per state, so code that
// needs, say, the loaded TOC takes a metadataLoaded and cannot run earlier.
type phase interface {
	state() states.State
}

type uninitialized struct{}

// metadataLoaded owns the verified metadata until it is handed on.
type metadataLoaded struct {
	meta metadata
}

// convertPending holds only why the layer must be converted.
type convertPending struct {
	reason states.Reason
}

// ready owns the metadata and the plan computed from it.
type ready struct {
	meta  metadata
	plan  *plan
	reuse *reuse // what the store already has
}

type applied struct{}

type fallback struct {
	reason states.Reason
}

type failed struct {
	err error
}

type closed struct{}

func (uninitialized) state() states.State  { return states.Uninitialized }
func (metadataLoaded) state() states.State { return states.MetadataLoaded }
func (convertPending) state() states.State { return states.ConvertPending }
func (ready) state() states.State          { return states.Ready }
func (applied) state() states.State        { return states.Applied }
func (fallback) state() states.State       { return states.Fallback }
func (failed) state() states.State         { return states.Failed }
func (closed) state() states.State         { return states.Closed }

// release frees whatever the phase owns; the next phase must not share it.
func release(p phase) error {
	switch p := p.(type) {
	case metadataLoaded:
		if p.meta != nil {
			return p.meta.Close()
		}
	case ready:
		if p.meta != nil {
			return p.meta.Close()
		}
	}
	return nil
}
