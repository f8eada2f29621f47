package differ

import (
	"iter"
	"os"
	"path/filepath"

	"github.com/chunkdiff/chunkdiff/internal/index"
	"github.com/opencontainers/go-digest"
)

// indexLocator answers lookups from the store's content index, and whole
// files also from the OSTree repositories of the ostree_repos pull option.
type indexLocator struct {
	x      *index.Index // nil when it could not be opened
	ostree []string
}

func (l indexLocator) lookup(d digest.Digest) []location {
	if l.x == nil {
		return nil
	}
	locs := l.x.Lookup(d)
	out := make([]location, len(locs))
	for i, loc := range locs {
		out[i] = location{dir: loc.Dir, path: loc.Path, offset: loc.Offset, length: loc.Length}
	}
	return out
}

func (l indexLocator) files(d digest.Digest, size int64, name string) iter.Seq[location] {
	return func(yield func(location) bool) {
		if l.x != nil {
			for loc := range l.x.FileCandidates(d, size, name) {
				if !yield(location{dir: loc.Dir, path: loc.Path, offset: loc.Offset, length: loc.Length}) {
					return
				}
			}
		}
		for _, p := range ostreeCandidates(l.ostree, d, size) {
			if !yield(location{path: p, length: size, trusted: true}) {
				return
			}
		}
	}
}

// ostreeCandidates are the files of the OSTree repositories that may hold
// content d of size bytes: objects/<2 hex>/<rest>.payload-link, where OSTree
// links each file by the sha256 of its content (upstream looks there too).
// The repositories are the administrator's, not a layer's, so the link is
// followed; the content is verified like any other candidate's.
func ostreeCandidates(repos []string, d digest.Digest, size int64) []string {
	if len(repos) == 0 || d.Algorithm() != digest.SHA256 || d.Validate() != nil {
		return nil
	}
	hex := d.Encoded()
	var out []string
	for _, repo := range repos {
		p := filepath.Join(repo, "objects", hex[:2], hex[2:]+".payload-link")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Size() == size {
			out = append(out, p)
		}
	}
	return out
}

// IndexSummary is what the content index held when the differ opened it.
type IndexSummary struct {
	Layers  int   `json:"layers"`
	Entries int64 `json:"entries"`
	Loaded  int   `json:"loaded"`
	Built   int   `json:"built"`
	// ByPath counts layers pulled without a TOC, looked up by path.
	ByPath int    `json:"by_path"`
	Error  string `json:"error,omitempty"`
}
