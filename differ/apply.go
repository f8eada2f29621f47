package differ

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	dcontext "github.com/chunkdiff/chunkdiff/differ/context"
	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/internal/apply"
	"github.com/chunkdiff/chunkdiff/internal/fetch"
	"github.com/opencontainers/go-digest"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/unshare"
)

// ApplySummary is what applying did, for the dump and the CLI.
type ApplySummary struct {
	Requests           int           `json:"requests"`
	Ranges             int           `json:"ranges"`
	Halvings           int           `json:"halvings,omitempty"`
	BytesFetched       int64         `json:"bytes_fetched"`
	BytesWritten       int64         `json:"bytes_written"`
	HoleBytes          int64         `json:"hole_bytes"`
	FilesFetched       int           `json:"files_fetched"`
	UncompressedDigest digest.Digest `json:"uncompressed_digest,omitempty"`
	Seconds            float64       `json:"seconds"`
	// LocalChunkBytes were copied from chunks of other layers' files.
	LocalChunkBytes int64        `json:"local_chunk_bytes"`
	Reuse           ReuseSummary `json:"reuse"`
	// MetadataBytes is the compressed TOC and tar-split, fetched while
	// loading (BytesFetched counts file contents only).
	MetadataBytes int64 `json:"metadata_bytes"`
	// Skipped is the part of the blob not downloaded (podman's "skipped"):
	// neither metadata nor file contents.
	Skipped int64 `json:"skipped_bytes"`
	// TOCStored: the TOC went to the store as the layer's big data (not
	// when over maxStoredTOC).
	TOCStored bool `json:"toc_stored"`
}

// ApplyDiff materialises the layer under dest (overlay's staging dir) and
// returns what the store needs to commit it. The differ is single-use: the
// phase it acts on is claimed first, so a second call gets ErrUsed.
//
// dest is expected to be empty, as a graph driver's staging directory is.
// If ApplyDiff fails it removes the entries it created directly under dest,
// so an empty dest is empty again; entries that were in dest before the call
// are never removed (files the layer wrote inside them do stay).
func (d *Differ) ApplyDiff(dest string, options *archive.TarOptions, differOpts *graphdriver.DifferOptions) (graphdriver.DriverWithDifferOutput, error) {
	out := graphdriver.DriverWithDifferOutput{Differ: d}
	if options == nil {
		options = &archive.TarOptions{}
	}
	if differOpts == nil {
		differOpts = &graphdriver.DifferOptions{}
	}
	switch p := d.claim().(type) {
	case metadataLoaded:
		return d.applyLoaded(p, dest, options, differOpts)
	case convertPending:
		loaded, err := d.convert(p, dest, differOpts)
		if err != nil {
			return out, err
		}
		return d.applyLoaded(loaded, dest, options, differOpts)
	case applied, working:
		return out, ErrUsed
	default:
		return out, fmt.Errorf("chunkdiff: ApplyDiff: %w", &states.IllegalEventError{State: p.state(), Event: states.Prepare})
	}
}

// applyLoaded runs metadata-loaded → ready → applied on the claimed p.
func (d *Differ) applyLoaded(p metadataLoaded, dest string, options *archive.TarOptions, differOpts *graphdriver.DifferOptions) (graphdriver.DriverWithDifferOutput, error) {
	out := graphdriver.DriverWithDifferOutput{Differ: d}
	start := time.Now()
	c := d.ctx
	layer := p.layer
	before, err := dirNames(dest) // never removed by the cleanup on failure
	if err != nil {
		return out, fail(d, p, err)
	}
	pl, err := newPlan(layer.layout, layer.origin.verifyContents(), c.TempDir())
	if err != nil {
		return out, fail(d, p, err)
	}
	defer func() { _ = pl.close() }() // on every path; the ready phase's release closes it too
	root, err := apply.Open(dest, apply.Options{
		UIDMaps: options.UIDMaps, GIDMaps: options.GIDMaps, ChownOpts: options.ChownOpts,
		ForceMask: options.ForceMask, IgnoreChownErrors: options.IgnoreChownErrors,
		WhiteoutFormat: options.WhiteoutFormat, Rootless: unshare.IsRootless(),
		TempDir: c.TempDir(),
	})
	if err != nil {
		return out, fail(d, p, err)
	}
	defer func() { _ = root.Close() }() // an O_PATH directory fd: nothing to flush
	if err := root.CheckFits(pl.regularBytes); err != nil {
		return out, fail(d, p, err) // before anything is staged
	}
	ru, err := planReuse(pl, layer.origin.locator(), root, c.PullOptions().UseHardLinks)
	defer ru.close() // its candidates' temp files and the layer directories it opened
	if err != nil {
		return out, fail(d, p, err)
	}
	if !layer.origin.lowerBound() {
		ru.LowerBound = 0 // the whole blob was downloaded to convert it: no lower bound applies
	}
	r := ready{layer: layer, plan: pl, reuse: ru}
	sizes := pl.sizes()
	ru.sizes(sizes)
	copies := ru.whole.len()
	reason := fmt.Sprintf("%d of %d entries to fetch, %d files to copy from the store (verified as they are copied), %d chunks local",
		pl.fetchAt.Len()-copies, pl.entries, copies, ru.ChunksLocal)
	// Held: Close cannot release the plan or the metadata under the fetch.
	if err := advanceHolding(d, edgePrepare, r, states.Reason{Detail: reason}, sizes); err != nil {
		return out, err
	}
	stats, err := d.materialize(r, c, root, differOpts, &out)
	if err != nil {
		// Leave nothing half-written behind: c/image does not clean up a
		// staging dir whose PrepareStagedLayer failed.
		if cerr := removeCreated(dest, before); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return out, fail(d, r, err)
	}
	sum := ApplySummary{
		Requests: stats.Requests, Ranges: stats.Ranges, Halvings: stats.Halvings,
		BytesFetched: stats.BytesFetched, BytesWritten: stats.BytesWritten, HoleBytes: stats.HoleBytes,
		FilesFetched: stats.Files, UncompressedDigest: out.UncompressedDigest, Seconds: time.Since(start).Seconds(),
		LocalChunkBytes: stats.LocalBytes, Reuse: ru.ReuseSummary,
		MetadataBytes: layer.origin.metadataBytes(layer.meta),
	}
	sum.Skipped = layer.origin.skipped(c, stats.BytesFetched, sum.MetadataBytes)
	_, sum.TOCStored = out.BigData[bigDataTOC]
	staged := "layer staged"
	if !sum.TOCStored {
		staged += fmt.Sprintf("; the TOC (%d bytes) is over %d bytes, so it is not kept as the layer's big data: later pulls reuse this layer's files by path", layer.summary.TOCUncompressedSize, maxStoredTOC)
	}
	// The metadata's temp files and the content index are released now;
	// the tar-split went to the output.
	seen := r.findings()
	_ = layer.close()
	if err := advance(d, edgeApply, applied{seen: seen, summary: sum}, states.Reason{Detail: staged}, sum.sizes()); err != nil {
		return out, err
	}
	return out, nil
}

// dirNames lists the names in dir (none if it does not exist yet).
func dirNames(dir string) (map[string]bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	names := make(map[string]bool, len(entries))
	for _, e := range entries {
		names[e.Name()] = true
	}
	return names, nil
}

// removeCreated removes what is inside dir except the names in keep (not dir
// itself, which the driver owns): whatever was there before is the caller's.
// RemoveAll never follows symlinks, so a hostile tree cannot redirect it
// outside.
func removeCreated(dir string, keep map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("cleaning up %s: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		if keep[e.Name()] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s ApplySummary) sizes() map[string]int64 {
	return map[string]int64{
		"requests": int64(s.Requests), "ranges": int64(s.Ranges), "bytes_fetched": s.BytesFetched,
		"bytes_written": s.BytesWritten, "files_fetched": int64(s.FilesFetched),
		"files_linked": int64(s.Reuse.FilesLinked), "files_copied": int64(s.Reuse.FilesCopied),
		"local_chunk_bytes": s.LocalChunkBytes, "metadata_bytes": s.MetadataBytes, "skipped_bytes": s.Skipped,
	}
}

// materialize writes the tree under root and fills out.
func (d *Differ) materialize(r ready, c *dcontext.Context, root *apply.Root, differOpts *graphdriver.DifferOptions, out *graphdriver.DriverWithDifferOutput) (fetch.Stats, error) {
	var err error
	flat := differOpts.Format == graphdriver.DifferOutputFormatFlat
	meta, org := r.layer.meta, r.layer.origin
	src, minCalls := org.source(c)
	m := &materializer{root: root, plan: r.plan, reuse: r.reuse, flat: flat, verity: newVerityRecorder(differOpts.UseFsVerity), tempDir: c.TempDir()}
	defer func() { _ = m.close() }() // its lists serve the fetch only
	limits := c.Limits()
	fopts := fetch.Options{Codec: org.codec(meta), MaxRangesPerRequest: limits.MaxRangesPerRequest,
		AutoMergeGap: limits.AutoMergeGap, MinCalls: minCalls}

	// The DiffID is recomputed alongside the fetch, on the other core.
	var job *diffIDJob
	started := func() {
		if !org.recomputeDiffID(c, meta) {
			return
		}
		m.progress = m.newProgress()
		job = startDiffID(meta.tarSplit(), root, m.progress)
	}
	var stats fetch.Stats
	if flat {
		stats, err = m.flatTree(d.runCtx(), src, fopts, started)
	} else {
		stats, err = m.tree(d.runCtx(), src, fopts, started)
	}
	if job != nil {
		if err != nil {
			m.progress.fail(err)
		}
		dg, n, jerr := job.wait()
		switch {
		case err != nil:
		case jerr != nil:
			err = jerr
		case n != org.uncompressedSize(meta):
			err = fmt.Errorf("the reassembled layer has %d bytes, the tar-split announced %d", n, org.uncompressedSize(meta))
		default:
			out.UncompressedDigest = dg
		}
	}
	if err != nil {
		return stats, err
	}

	tocJSON, err := readTOC(meta.TOCJSON(), meta.summary().TOCUncompressedSize)
	if err != nil {
		return stats, err
	}
	layerData, err := marshalLayerData(differOpts.Format)
	if err != nil {
		return stats, err
	}
	org.output(c, out)
	out.UIDs, out.GIDs = r.plan.uids, r.plan.gids
	out.Size = org.uncompressedSize(meta)
	out.BigData = map[string][]byte{bigDataLayerData: layerData}
	if tocJSON != nil {
		out.BigData[bigDataTOC] = tocJSON
	}
	if !flat {
		out.RootDirMode = root.RootDirMode()
	}
	if meta.tarSplit() != nil {
		ts := meta.takeTarSplit()
		if err := rewind(ts); err != nil {
			_ = ts.Close()
			return stats, err
		}
		out.TarSplit = ts
	}
	out.Artifacts = map[string]any{artifactVerity: m.verity.result()}
	return stats, nil
}
