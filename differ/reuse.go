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
	// whole: fetch files that may exist verbatim in the store (candidates,
	// not verified yet), on disk. A candidate is verified only while it is
	// copied (or, to be hard-linked, hashed) into the new layer; one that
	// does not hash to the file's digest is discarded and the file fetched
	// (materializer.copyReused). No file stays open per candidate: the
	// copy reopens it.
	whole candidates
	mu    sync.Mutex // guards roots and the counters while planning
	roots map[string]*apply.Root
	err   error // reading the layout back failed
	ReuseSummary
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
	if r.whole.fetchRecords != nil {
		_ = r.whole.close()
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
	r := &reuse{whole: newCandidates(pl.tempDir, pl.fetchAt.Len()), roots: map[string]*apply.Root{}}
	// Local chunks go to the plan, read back as fetching reads each file;
	// their sources stay open for it, a bounded number at a time (the
	// plan closes them).
	if pl.local.fetchRecords == nil {
		pl.local = newLocalChunks(pl.tempDir, pl.fetchAt.Len(), newSourceCache(r.openSource))
	}
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
	return r, cmp.Or(r.err, r.whole.finish(), pl.local.finish())
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
	if l, link, ok := r.findWhole(loc, f, e, dest, hardLinks); ok {
		if err := r.whole.add(candidate{k: i, at: at, loc: l, link: link}); err != nil {
			r.mu.Lock()
			r.err = cmp.Or(r.err, err)
			r.mu.Unlock()
		}
		return
	}
	var local []localChunk
	for j := range f.Chunks {
		c := &f.Chunks[j]
		if c.Zeros || c.Digest == "" {
			continue
		}
		if l, ok := r.findRange(pl.local.sources, loc, c.Digest, c.Size); ok {
			c.Local, c.LocalOffset = localSource{pl.local.sources, l}, l.offset
			local = append(local, localChunk{j: j, loc: l})
		}
	}
	if len(local) > 0 {
		if err := pl.local.add(i, local); err != nil {
			r.mu.Lock()
			r.err = cmp.Or(r.err, err)
			r.mu.Unlock()
			return
		}
	}
	r.mu.Lock()
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
// can be hard-linked when use_hard_links is set (link). Nothing is read: the
// candidate is verified when it is copied (one read instead of two), and
// planning costs a lookup per file. A candidate checked for a hard link is
// closed again at once: at 1M files, one descriptor each would not fit.
func (r *reuse) findWhole(loc locator, f *fetch.File, e *toc.Entry, dest *apply.Root, hardLinks bool) (_ location, link, ok bool) {
	if f.Digest == "" || !f.Digest.Algorithm().Available() {
		return location{}, false, false // nothing would verify the copy
	}
	var fallback location
	for l := range loc.files(f.Digest, f.Size, e.Name) {
		if l.offset != 0 || l.length != f.Size {
			continue
		}
		if !hardLinks {
			return l, false, true
		}
		src := r.openSource(l)
		if src == nil {
			continue
		}
		same := linkable(src, e, dest)
		_ = src.Close() // read-only: nothing to flush
		if same {
			return l, true, true
		}
		// Attributes differ: a copy still saves the download.
		if !ok {
			fallback, ok = l, true
		}
	}
	return fallback, false, ok
}

// linkable reports whether src already has the attributes e gets under
// dest, the condition to hard-link it rather than copy it.
func linkable(src *os.File, e *toc.Entry, dest *apply.Root) bool {
	target, err := dest.Target(e)
	if err != nil {
		return false
	}
	same, err := apply.SameAttrs(src, &target)
	return err == nil && same
}

// findRange returns where in the store size bytes with digest d are, read
// and verified here through sources (in-root, no symlinks followed: layer
// trees are untrusted).
func (r *reuse) findRange(sources *sourceCache, loc locator, d digest.Digest, size int64) (location, bool) {
	if !d.Algorithm().Available() {
		return location{}, false
	}
	for _, l := range loc.lookup(d) {
		if l.length != size {
			continue
		}
		src := sources.acquire(l)
		if src == nil {
			continue // gone: not reused
		}
		ok := verifies(src.f, l.offset, l.length, d)
		sources.release(src)
		if ok {
			return l, true
		}
		r.reject()
	}
	return location{}, false
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

// openSource opens the file l points at for the caller, who closes it
// (nil if it is gone). A layer directory is untrusted: the file is opened
// confined to it (in-root, no symlinks followed), the directory opened once
// and shared. A trusted path (an OSTree repository's) is opened as is,
// O_NONBLOCK: the file may have been swapped for a FIFO since it was
// checked; a regular file ignores the flag.
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
