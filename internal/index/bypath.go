package index

import (
	"iter"
	"sync"

	"github.com/opencontainers/go-digest"
)

// FileLayers says what Open does with layers pulled without a TOC (ordinary
// gzip or zstd pulls: the common case in an existing store).
type FileLayers int

const (
	// FilesHashed reads and hashes every file of such a layer the first time
	// it is indexed. Lookups then find their content by digest under any
	// path, but the first Open into a store of N ordinary layers reads all
	// of them: its cost grows with the store, not with the layer pulled.
	FilesHashed FileLayers = iota
	// FilesByPath indexes nothing up front: FileCandidates offers the file at
	// the wanted path in each such layer when its size matches, and the
	// caller verifies it (as it must verify every hit). A pull then costs
	// one path lookup per wanted file and layer, and reads only what it
	// reuses; content that moved to another path is not found there. Index
	// files written by FilesHashed are still used when present.
	FilesByPath
	// FilesNone leaves such layers out.
	FilesNone
)

// WithFileLayers sets how layers without a TOC are indexed (FilesHashed by
// default).
func WithFileLayers(m FileLayers) Option { return func(c *config) { c.files = m } }

// pathLayer is a layer without a TOC looked up by path (FilesByPath). It
// holds its diff directory open (O_PATH) so lookups resolve beneath it.
type pathLayer struct {
	id  string
	dir string
	fd  int // -1 once closed

	mu sync.Mutex
	// dirs caches whether a directory exists in the layer: files of a
	// directory the layer lacks then cost a map lookup, not a syscall.
	dirs map[string]bool
}

// maxCachedDirs bounds a layer's directory cache; past it lookups still
// work, they only pay the directory's lookup again.
const maxCachedDirs = 1 << 16

// FileCandidates yields the places that may hold a whole file with digest d
// and size bytes, to be named name in the layer being pulled: first the
// indexed whole-file locations of d (as Lookup), then, for each layer looked
// up by path (FilesByPath), the file at name when it is a regular file of
// that size. The latter are unverified: the caller must hash them, as it
// must every Location. Stop early (break) once one is good: later
// candidates then cost nothing.
//
// The view stays read-locked while the loop runs: do not Close the index
// from inside it.
func (x *Index) FileCandidates(d digest.Digest, size int64, name string) iter.Seq[Location] {
	return func(yield func(Location) bool) {
		for _, l := range x.Lookup(d) {
			if l.Whole && l.Length == size && !yield(l) {
				return
			}
		}
		rel, ok := layerPath(name)
		if !ok || size <= 0 {
			return
		}
		x.mu.RLock()
		defer x.mu.RUnlock()
		for _, pl := range x.byPath {
			n, ok := pl.stat(rel)
			if !ok || n != size {
				continue
			}
			if !yield(Location{Layer: pl.id, Dir: pl.dir, Path: rel, Length: size, Whole: true}) {
				return
			}
		}
	}
}
