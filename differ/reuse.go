package differ

import (
	"cmp"
	"io"
	"iter"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/apply"
	"github.com/chunkdiff/chunkdiff/internal/fetch"
	"github.com/opencontainers/go-digest"
)

// location is where a piece of content already lives in the store: bytes
// [offset, offset+length) of file path inside a layer directory dir.
type location struct {
	dir, path      string
	offset, length int64
	// trusted: path is an absolute path in configuration the administrator
	// controls (an OSTree repository), opened as is; dir is unused. Layer
	// directories are untrusted and opened confined to dir.
	trusted bool
}

// locator finds content already in the store (the content index). Its
// answers are hints: everything is verified before use, so a stale or
// corrupt index can cost a fetch but never corrupt a layer.
type locator interface {
	lookup(d digest.Digest) []location
	// files yields candidates for a whole file of size bytes named name in
	// the layer being pulled; stop early once one is good.
	files(d digest.Digest, size int64, name string) iter.Seq[location]
}

// reuse is what planning found locally for one layer.
type reuse struct {
	// whole[i]: fetch file i may exist verbatim in the store (a candidate,
	// not verified yet).
	whole map[int]*wholeFile
	mu    sync.Mutex          // guards the maps and counters while planning
	open  map[string]*os.File // sources by dir + path, closed at the end
	roots map[string]*apply.Root
	err   error // reading the layout back failed
	ReuseSummary
}

// wholeFile is a candidate for a whole file: chosen while planning,
// verified only while it is copied (or, to be hard-linked, hashed) into the
// new layer; a candidate that does not hash to the file's digest is
// discarded and the file fetched (materializer.copyReused).
type wholeFile struct {
	loc  location
	src  *os.File // opened while planning (hard-link check), else nil
	link bool     // hard-link it (use_hard_links, attributes match)
}

// ReuseSummary counts what content reuse saved.
type ReuseSummary struct {
	FilesLinked    int   `json:"files_linked"`
	FilesCopied    int   `json:"files_copied"` // reflinked or copied
	FilesReflinked int   `json:"files_reflinked"`
	BytesLinked    int64 `json:"bytes_linked"`
	BytesCopied    int64 `json:"bytes_copied"`
	ChunksLocal    int   `json:"chunks_local"`
	// Rejected counts index hits whose bytes no longer matched (chunks
	// while planning, whole files while copying them).
	Rejected int `json:"stale_hits_rejected"`
	// LowerBound is the compressed size of the pieces (single-piece files
	// and chunks) whose digests occur nowhere in the store: what any
	// partial pull must fetch at least.
	LowerBound int64 `json:"lower_bound_bytes"`
}

func (r *reuse) close() {
	for _, f := range r.open {
		if f != nil {
			_ = f.Close()
		}
	}
	for _, root := range r.roots {
		if root != nil {
			_ = root.Close()
		}
	}
}

// planReuse looks every file to fetch, then every chunk, up in the store.
// It fails only when the layout cannot be read back; the result is to be
// closed even then.
func planReuse(pl *plan, loc locator, dest *apply.Root, hardLinks bool) (*reuse, error) {
	r := &reuse{whole: map[int]*wholeFile{}, roots: map[string]*apply.Root{}, open: map[string]*os.File{}}
	// Local chunks are filled into the plan's fetch list in place.
	if loc == nil {
		r.LowerBound = pl.bytesPlanned // no chunk is local
		return r, nil
	}
	// Looking candidates up costs a few syscalls per file and layer (and
	// verifying a local chunk reads it): spread the files over a few
	// workers. Whole files are verified later, while they are copied.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range reuseWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= pl.fetchAt.Len() {
					return
				}
				r.planFile(pl, i, loc, dest, hardLinks)
			}
		})
	}
	wg.Wait()
	return r, r.err
}

// reuseWorkers bounds the files looked up (or chunks verified) at once:
// enough to overlap cold reads with hashing, few enough not to thrash the
// disk.
const reuseWorkers = 4

// planFile finds fetch file i whole in the store, or else its chunks.
func (r *reuse) planFile(pl *plan, i int, loc locator, dest *apply.Root, hardLinks bool) {
	at, err := pl.fetchAt.At(i)
	var f *fetch.File
	var e *toc.Entry
	if err == nil {
		f, e, err = pl.readFile(at) // its local chunks are found here
	}
	if err != nil {
		r.mu.Lock()
		r.err = cmp.Or(r.err, err)
		r.mu.Unlock()
		return
	}
	if w := r.findWhole(loc, f, e, dest, hardLinks); w != nil {
		r.mu.Lock()
		r.whole[i] = w
		r.mu.Unlock()
		return
	}
	var local []localChunk
	for j := range f.Chunks {
		c := &f.Chunks[j]
		if c.Zeros || c.Digest == "" {
			continue
		}
		if src, off := r.findRange(loc, c.Digest, c.Size); src != nil {
			c.Local, c.LocalOffset = src, off
			local = append(local, localChunk{j: j, src: src, off: off})
		}
	}
	r.mu.Lock()
	if len(local) > 0 {
		if pl.local == nil {
			pl.local = map[int64][]localChunk{}
		}
		pl.local[at] = local
	}
	r.ChunksLocal += len(local)
	r.LowerBound += networkBytes(*f)
	r.mu.Unlock()
}

// networkBytes is what f still needs from the blob.
func networkBytes(f fetch.File) int64 {
	var n int64
	for _, c := range f.Chunks {
		if !c.Zeros && c.Local == nil {
			n += c.Length
		}
	}
	return n
}

// findWhole returns a candidate for a local copy of f, preferring one that
// can be hard-linked when use_hard_links is set. Nothing is read: the
// candidate is verified when it is copied (one read instead of two), and
// planning costs a lookup per file.
func (r *reuse) findWhole(loc locator, f *fetch.File, e *toc.Entry, dest *apply.Root, hardLinks bool) *wholeFile {
	if f.Digest == "" || !f.Digest.Algorithm().Available() {
		return nil // nothing would verify the copy
	}
	var fallback *wholeFile
	for l := range loc.files(f.Digest, f.Size, e.Name) {
		if l.offset != 0 || l.length != f.Size {
			continue
		}
		if !hardLinks {
			return &wholeFile{loc: l}
		}
		src := r.source(l)
		if src == nil {
			continue
		}
		if target, err := dest.Target(e); err == nil {
			if same, err := apply.SameAttrs(src, &target); err == nil && same {
				return &wholeFile{loc: l, src: src, link: true}
			}
		}
		// Attributes differ: a copy still saves the download.
		if fallback == nil {
			fallback = &wholeFile{loc: l, src: src}
		}
	}
	return fallback
}

// findRange returns a source file and offset holding size bytes with digest d.
func (r *reuse) findRange(loc locator, d digest.Digest, size int64) (*os.File, int64) {
	for _, l := range loc.lookup(d) {
		if l.length != size {
			continue
		}
		if src := r.openVerifiedRange(l, d); src != nil {
			return src, l.offset
		}
	}
	return nil, 0
}

// openVerifiedRange opens l (in-root, no symlinks followed: layer trees are
// untrusted) and checks that its bytes hash to d.
func (r *reuse) openVerifiedRange(l location, d digest.Digest) *os.File {
	if !d.Algorithm().Available() {
		return nil
	}
	src := r.source(l)
	if src == nil {
		return nil
	}
	if !verifies(src, l.offset, l.length, d) {
		r.reject()
		return nil
	}
	return src
}

// reject counts a candidate whose bytes did not match.
func (r *reuse) reject() {
	r.mu.Lock()
	r.Rejected++
	r.mu.Unlock()
}

// verifies reports whether length bytes of src at offset hash to d.
func verifies(src *os.File, offset, length int64, d digest.Digest) bool {
	h := d.Algorithm().Hash()
	n, err := io.Copy(h, io.NewSectionReader(src, offset, length))
	return err == nil && n == length && digest.NewDigest(d.Algorithm(), h) == d
}

// source opens (once) the file l points at, nil if it is gone. Files are
// read with ReadAt only, so one open file serves every worker.
func (r *reuse) source(l location) *os.File {
	key := l.dir + "\x00" + l.path
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.open[key]; ok {
		return f
	}
	if l.trusted {
		// O_NONBLOCK: the file may have been swapped for a FIFO since it was
		// checked; a regular file ignores the flag.
		src, err := os.OpenFile(l.path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			src = nil
		}
		r.open[key] = src
		return src
	}
	root, ok := r.roots[l.dir]
	if !ok {
		root, _ = apply.Open(l.dir, apply.Options{})
		r.roots[l.dir] = root
	}
	var src *os.File
	if root != nil {
		// A vanished layer or file is simply not reused.
		src, _ = root.OpenForRead(filepath.ToSlash(l.path))
	}
	r.open[key] = src
	return src
}

// openSource opens the file l points at for the caller, who closes it
// (nil if it is gone); the layer directory is opened once and shared, the
// file is confined to it as in source.
func (r *reuse) openSource(l location) *os.File {
	if l.trusted {
		src, err := os.OpenFile(l.path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return nil
		}
		return src
	}
	r.mu.Lock()
	root, ok := r.roots[l.dir]
	if !ok {
		root, _ = apply.Open(l.dir, apply.Options{})
		r.roots[l.dir] = root
	}
	r.mu.Unlock()
	if root == nil {
		return nil
	}
	src, err := root.OpenForRead(filepath.ToSlash(l.path))
	if err != nil {
		return nil
	}
	return src
}

// sizes is what the prepare transition records about reuse.
func (s ReuseSummary) sizes(m map[string]int64) {
	m["chunks_local"] = int64(s.ChunksLocal)
	m["lower_bound_bytes"] = s.LowerBound
	m["stale_hits_rejected"] = int64(s.Rejected)
}
