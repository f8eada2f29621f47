package differ

import (
	"github.com/chunkdiff/chunkdiff/internal/index"
	"github.com/opencontainers/go-digest"
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

// IndexSummary is what the content index held when the differ opened it.
type IndexSummary struct {
	Layers  int    `json:"layers"`
	Entries int64  `json:"entries"`
	Loaded  int    `json:"loaded"`
	Built   int    `json:"built"`
	Error   string `json:"error,omitempty"`
}
