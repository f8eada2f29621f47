package differ

import (
	"errors"

	"github.com/chunkdiff/chunkdiff/convert"
	dcontext "github.com/chunkdiff/chunkdiff/differ/context"
	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/internal/blob/seekable"
	"github.com/chunkdiff/chunkdiff/internal/fetch"
	"github.com/chunkdiff/chunkdiff/internal/index"
	"github.com/chunkdiff/chunkdiff/internal/layout"
	"github.com/chunkdiff/chunkdiff/internal/source"
	storage "go.podman.io/storage"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/chunked"
)

// loadedLayer is a layer whose metadata is verified: the metadata, where the
// layer's bytes come from, and the summary the dump keeps.
type loadedLayer struct {
	meta metadata
	// layout is built from the entries during the load's one decoding
	// pass; planning and applying read it back, nothing decodes the TOC
	// again.
	layout  *layout.Layout
	origin  origin
	summary MetadataSummary
}

func (l loadedLayer) findings() findings {
	f := findings{meta: &l.summary}
	l.origin.note(&f)
	return f
}

func (l loadedLayer) close() error {
	return errors.Join(l.meta.Close(), l.layout.Close(), l.origin.close())
}

// origin is where a loaded layer comes from, and everything that depends on
// it (docs/BEHAVIOUR.md, "origins"): a layer pulled partially from the
// registry, or one downloaded whole and converted locally (convert_images).
type origin interface {
	// source serves the chunks; minCalls is fetch.Options.MinCalls for it.
	source(c *dcontext.Context) (src chunked.ImageSourceSeekable, minCalls int)
	// codec is how chunks are compressed at the source.
	codec(m metadata) fetch.Codec
	// verifyContents: hash every file and chunk while fetching.
	verifyContents() bool
	// locator finds content already in the store; nil: no reuse.
	locator() locator
	// lowerBound reports whether reuse's lower bound (bytes any partial
	// pull must fetch) means anything for this layer.
	lowerBound() bool
	// metadataBytes is what loading the metadata fetched from the blob
	// (the TOC and tar-split ranges); 0 when nothing was fetched by range.
	metadataBytes(m metadata) int64
	// skipped is the part of the blob not downloaded, fetched being what
	// ApplyDiff fetched and metadata what loading the metadata did.
	skipped(c *dcontext.Context, fetched, metadata int64) int64
	// recomputeDiffID: the DiffID must be recomputed from the tar-split
	// while fetching (rule "diffid").
	recomputeDiffID(c *dcontext.Context, m metadata) bool
	// uncompressedSize is the layer's tar size, -1 if unknown.
	uncompressedSize(m metadata) int64
	// output fills the digests the store records for the layer.
	output(c *dcontext.Context, out *graphdriver.DriverWithDifferOutput)
	// note adds what the origin knows to the dump.
	note(f *findings)
	close() error
}

// registry is a layer pulled partially from its registry. It alone uses the
// store's content index (rule "reuse").
type registry struct {
	store storage.Store // opens the index; nil after openIndex
	index *index.Index
	stats *IndexSummary
	// ostree are the OSTree repositories of the ostree_repos pull option,
	// looked up for whole files like the index.
	ostree []string
}

// openIndex opens the store's content index for reuse. It is an
// optimisation: when it cannot be opened the layer is still pulled, only
// without reuse, and the reason is kept for the dump (upstream instead fails
// the pull when its layers cache cannot be loaded).
func (r *registry) openIndex() {
	if r == nil || r.store == nil {
		return
	}
	// Layers pulled without a TOC are looked up by path, not hashed up
	// front: the first partial pull into a store of ordinary layers must not
	// read them all (docs/DECISIONS.md, "Index by path").
	x, err := index.Open(r.store, index.WithFileLayers(index.FilesByPath))
	r.store = nil
	if err != nil {
		r.stats = &IndexSummary{Error: err.Error()}
		return
	}
	st := x.Stats()
	r.index = x
	r.stats = &IndexSummary{Layers: st.Layers, Entries: st.Entries, Loaded: st.Loaded, Built: st.Built, ByPath: st.ByPath}
}

func (r *registry) source(c *dcontext.Context) (chunked.ImageSourceSeekable, int) {
	return seekable.Chunked(c.Source()), 0
}
func (r *registry) codec(m metadata) fetch.Codec { return m.codec() }
func (r *registry) verifyContents() bool         { return true }
func (r *registry) locator() locator {
	if r == nil || (r.index == nil && len(r.ostree) == 0) {
		return nil
	}
	return indexLocator{x: r.index, ostree: r.ostree}
}
func (r *registry) lowerBound() bool { return true }
func (r *registry) metadataBytes(m metadata) int64 {
	s := m.summary()
	return int64(s.TOCCompressedSize + s.TarSplitCompressedSize)
}
func (r *registry) skipped(c *dcontext.Context, fetched, metadata int64) int64 {
	if c.BlobSize() <= 0 {
		return 0
	}
	return max(c.BlobSize()-fetched-metadata, 0)
}
func (r *registry) recomputeDiffID(c *dcontext.Context, m metadata) bool {
	return m.tarSplit() != nil && !c.PullOptions().InsecureAllowUnpredictableImageContents
}
func (r *registry) uncompressedSize(m metadata) int64 { return m.uncompressedSize() }
func (r *registry) output(c *dcontext.Context, out *graphdriver.DriverWithDifferOutput) {
	out.TOCDigest = c.TOCDigest()
}
func (r *registry) note(f *findings) {
	if r != nil && r.stats != nil {
		s := *r.stats
		f.index = &s
	}
}
func (r *registry) close() error {
	if r == nil || r.index == nil {
		return nil
	}
	x := r.index
	r.index = nil
	return x.Close()
}

// converted is a layer downloaded whole and converted locally
// (convert_images): its TOC describes the uncompressed variant in a local
// temp file, which is also where every chunk is read from. The blob's digest
// was checked while downloading it, so contents are not hashed again, and
// its DiffID was computed while converting.
type converted struct {
	local  *convert.Local
	src    *source.ReaderAt
	reason states.Reason // why it was converted
}

func (v *converted) source(*dcontext.Context) (chunked.ImageSourceSeekable, int) {
	// A local source: extra calls cost nothing, so give every worker a
	// share.
	return v.src, fetch.DefaultConcurrency
}
func (v *converted) codec(metadata) fetch.Codec                       { return fetch.Raw }
func (v *converted) verifyContents() bool                             { return false }
func (v *converted) locator() locator                                 { return nil } // already local
func (v *converted) lowerBound() bool                                 { return false }
func (v *converted) metadataBytes(metadata) int64                     { return 0 }
func (v *converted) skipped(*dcontext.Context, int64, int64) int64    { return 0 }
func (v *converted) recomputeDiffID(*dcontext.Context, metadata) bool { return false }
func (v *converted) uncompressedSize(metadata) int64                  { return v.local.TarSize }
func (v *converted) output(_ *dcontext.Context, out *graphdriver.DriverWithDifferOutput) {
	// Upstream's outputs for converted layers: the blob's digest, the
	// tar's digest, and no TOC digest (the local TOC is not published).
	out.TOCDigest = ""
	out.CompressedDigest = v.local.CompressedDigest
	out.UncompressedDigest = v.local.DiffID
}
func (v *converted) note(f *findings) {
	r := v.reason
	f.reason = &r
}
func (v *converted) close() error { return v.local.Close() }

var (
	_ origin = (*registry)(nil)
	_ origin = (*converted)(nil)
)
