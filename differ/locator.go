package differ

import (
	"github.com/chunkdiff/chunkdiff/internal/index"
	"github.com/opencontainers/go-digest"
	storage "go.podman.io/storage"
)

// indexLocator answers lookups from the store's content index.
type indexLocator struct{ x *index.Index }

func (l indexLocator) lookup(d digest.Digest) []location {
	locs := l.x.Lookup(d)
	out := make([]location, len(locs))
	for i, loc := range locs {
		out[i] = location{dir: loc.Dir, path: loc.Path, offset: loc.Offset, length: loc.Length}
	}
	return out
}

// openIndex opens the store's content index for reuse. It is an
// optimisation: when it cannot be opened the layer is still pulled, only
// without reuse, and the reason is kept for the dump (upstream instead fails
// the pull when its layers cache cannot be loaded).
func (d *Differ) openIndex(store storage.Store) {
	x, err := index.Open(store)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		d.indexErr = err.Error()
		return
	}
	d.index = x
	d.loc = indexLocator{x}
	st := x.Stats()
	d.indexStats = &IndexSummary{Layers: st.Layers, Entries: st.Entries, Loaded: st.Loaded, Built: st.Built}
}

// IndexSummary is what the content index held when the differ opened it.
type IndexSummary struct {
	Layers  int    `json:"layers"`
	Entries int64  `json:"entries"`
	Loaded  int    `json:"loaded"`
	Built   int    `json:"built"`
	Error   string `json:"error,omitempty"`
}

func (d *Differ) closeIndex() {
	d.mu.Lock()
	x := d.index
	d.index, d.loc = nil, nil
	d.mu.Unlock()
	if x != nil {
		_ = x.Close()
	}
}
