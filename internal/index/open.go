package index

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	storage "go.podman.io/storage"
)

// DirName is the index directory's name under the store's GraphRoot.
const DirName = "chunkdiff-index"

// tmpMaxAge: temporary files older than this were left by a crashed
// writer; younger ones may belong to a concurrent Open.
const tmpMaxAge = time.Hour

type config struct {
	dir   string
	files FileLayers
}

// Option configures Open.
type Option func(*config)

// WithDir keeps the index files in dir instead of <GraphRoot>/chunkdiff-index.
func WithDir(dir string) Option { return func(c *config) { c.dir = dir } }

// WithoutFileLayers leaves out layers without a TOC instead of hashing their
// files (the first Open reads every such layer in full; later ones do not).
// It is WithFileLayers(FilesNone).
func WithoutFileLayers() Option { return WithFileLayers(FilesNone) }

// Index is a read-only view of the store's content at Open time. Its
// methods are safe for concurrent use.
type Index struct {
	mu     sync.RWMutex
	layers []*layerFile // lookup order
	// blooms[i] is layers[i].bloom: scanning a dense slice of filters is
	// what a miss costs, so it avoids a pointer chase per layer.
	blooms [][]byte
	// byPath are the layers without a TOC looked up by path (FilesByPath),
	// in lookup order.
	byPath   []*pathLayer
	stats    Stats
	problems []error
}

// Stats describes what Open did and what the view holds.
type Stats struct {
	Layers      int   // layers in the view
	Entries     int64 // records across them
	BytesMapped int64
	Loaded      int // layers whose existing file was used as is
	Built       int // layers whose file this Open (re)built
	ByPath      int // layers without a TOC looked up by path (FilesByPath)
	Skipped     int // store layers not in the view (see Problems for failures)
	Removed     int // files of layers the store no longer has
	LoadTime    time.Duration
	BuildTime   time.Duration
}

// LayerInfo describes one indexed layer.
type LayerInfo struct {
	ID      string
	Dir     string
	Kind    Kind
	Entries int
	// ByPath: a layer without a TOC looked up by path (Kind is KindFiles,
	// Entries 0: nothing was read up front).
	ByPath bool
}

// Open brings the index of every layer in store up to date (loading the
// files that are still valid, building the others, deleting those of
// deleted layers) and returns a view of it. Only failing to list the
// layers or to create the index directory is fatal; a layer that cannot be
// indexed is left out and reported by Problems.
//
// Layers are looked up newest first (by creation time): recent layers are
// the least likely to be deleted while a pull uses them, and the most
// likely to share content with what is being pulled.
//
// Open takes store locks (Layers, DifferTarget, LayerBigData): do not call
// it while holding one. Close the view to unmap its files.
func Open(store storage.Store, opts ...Option) (*Index, error) {
	cfg := config{dir: filepath.Join(store.GraphRoot(), DirName)}
	for _, o := range opts {
		o(&cfg)
	}
	layers, err := store.Layers()
	if err != nil {
		return nil, fmt.Errorf("index: listing layers: %w", err)
	}
	slices.SortStableFunc(layers, func(a, b storage.Layer) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	var (
		specs    []layerSpec
		problems []error
		skipped  int
		known    = make(map[string]bool, len(layers))
	)
	for i := range layers {
		known[layers[i].ID] = true
		s, ok, err := specFor(store, &layers[i], &cfg)
		if err != nil {
			problems = append(problems, &LayerError{Layer: layers[i].ID, Op: "dir", Err: err})
		}
		if !ok {
			skipped++
			continue
		}
		specs = append(specs, s)
	}
	x, err := open(cfg.dir, specs, known)
	if err != nil {
		return nil, err
	}
	x.problems = append(problems, x.problems...)
	x.stats.Skipped += skipped
	return x, nil
}

// open loads or builds the index file of each spec, in order, and removes
// the files of layers not in known.
func open(dir string, specs []layerSpec, known map[string]bool) (*Index, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	x := &Index{}
	buf := make([]byte, 256<<10) // verify reads through this
	for _, s := range specs {
		p := indexPath(dir, s.id)
		t0 := time.Now()
		lf, err := loadFile(p, s.id, s.fingerprint, buf)
		x.stats.LoadTime += time.Since(t0)
		switch {
		case err == nil:
			x.stats.Loaded++
		case s.byPath:
			// No file yet: look the layer up by path rather than reading
			// it all now (a stale file is left for removeOrphans or a
			// later FilesHashed Open to replace).
			pl, err := openPathLayer(s.id, s.dir)
			if err != nil {
				x.problems = append(x.problems, err)
				x.stats.Skipped++
				continue
			}
			x.byPath = append(x.byPath, pl)
			x.stats.ByPath++
			x.stats.Layers++
			continue
		default:
			if !errors.Is(err, fs.ErrNotExist) {
				x.problems = append(x.problems, &LayerError{Layer: s.id, Op: "load", Err: err})
			}
			t0 = time.Now()
			lf, err = x.build(dir, s, buf)
			x.stats.BuildTime += time.Since(t0)
			if err != nil {
				x.problems = append(x.problems, err)
				x.stats.Skipped++
				continue
			}
			x.stats.Built++
		}
		lf.dir = s.dir
		x.layers = append(x.layers, lf)
		x.blooms = append(x.blooms, lf.bloom)
		x.stats.Layers++
		x.stats.Entries += int64(lf.n)
		x.stats.BytesMapped += int64(len(lf.data))
	}
	x.stats.Removed = removeOrphans(dir, known)
	return x, nil
}

// build creates a layer's file and loads it like any other, so a fresh
// file goes through the same checks.
func (x *Index) build(dir string, s layerSpec, buf []byte) (*layerFile, error) {
	kind, b, err := s.build()
	if err != nil {
		return nil, &LayerError{Layer: s.id, Op: "build", Err: err}
	}
	recs := b.finish()
	if err := writeFile(dir, s.id, s.fingerprint, kind, recs, b.strs); err != nil {
		return nil, &LayerError{Layer: s.id, Op: "write", Err: err}
	}
	lf, err := loadFile(indexPath(dir, s.id), s.id, s.fingerprint, buf)
	if err != nil {
		return nil, &LayerError{Layer: s.id, Op: "load", Err: err}
	}
	return lf, nil
}

// removeOrphans deletes the files of layers not in known and temporary
// files left by crashed writers. It returns how many index files it removed.
func removeOrphans(dir string, known map[string]bool) int {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, ".tmp-"):
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > tmpMaxAge {
				_ = os.Remove(filepath.Join(dir, name))
			}
		case strings.HasSuffix(name, fileExt):
			if !known[strings.TrimSuffix(name, fileExt)] {
				if os.Remove(filepath.Join(dir, name)) == nil {
					n++
				}
			}
		}
	}
	return n
}

// Stats returns what Open did and what the view holds.
func (x *Index) Stats() Stats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.stats
}

// Problems returns the per-layer failures of Open (*LayerError values): files
// rejected and rebuilt, layers that could not be indexed.
func (x *Index) Problems() []error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return slices.Clone(x.problems)
}

// Layers describes the indexed layers in lookup order.
func (x *Index) Layers() []LayerInfo {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]LayerInfo, 0, len(x.layers)+len(x.byPath))
	for _, lf := range x.layers {
		out = append(out, LayerInfo{ID: lf.id, Dir: lf.dir, Kind: lf.kind, Entries: lf.n})
	}
	for _, pl := range x.byPath {
		out = append(out, LayerInfo{ID: pl.id, Dir: pl.dir, Kind: KindFiles, ByPath: true})
	}
	return out
}

// Close unmaps the files. Lookups after Close find nothing; Locations
// already returned stay valid values. Close is idempotent.
func (x *Index) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	var errs []error
	for _, lf := range x.layers {
		errs = append(errs, lf.unmap())
	}
	for _, pl := range x.byPath {
		errs = append(errs, pl.close())
	}
	x.layers, x.blooms, x.byPath = nil, nil, nil
	return errors.Join(errs...)
}
