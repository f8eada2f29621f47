package differ

import (
	"context"
	"errors"
	"fmt"

	dcontext "github.com/chunkdiff/chunkdiff/differ/context"
	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/formats"
	"github.com/chunkdiff/chunkdiff/formats/estargz"
	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/formats/zstdchunked"
	"github.com/chunkdiff/chunkdiff/internal/blob"
	"github.com/chunkdiff/chunkdiff/internal/layout"
	"github.com/chunkdiff/chunkdiff/internal/spool"
)

// load runs the format-specific rules of the decision matrix
// (docs/BEHAVIOUR.md) from uninitialized. reg is the registry origin the
// loaded layer gets; it opens the content index once the layer is loaded.
func (d *Differ) load(ctx context.Context, reg *registry) error {
	c := d.ctx
	switch c.Format() {
	case dcontext.FormatZstdChunked:
		return d.loadZstdChunked(ctx, c, reg)
	case dcontext.FormatEStargz:
		return d.loadEStargz(ctx, c, reg)
	default: // rule "no-toc"
		return decline(d, uninitialized{}, c.PullOptions().ConvertImages,
			states.Because(states.CodeNoTOC, "the layer has no TOC annotation"), nil)
	}
}

func (d *Differ) loadZstdChunked(ctx context.Context, c *dcontext.Context, reg *registry) error {
	from := uninitialized{}
	convertImages := c.PullOptions().ConvertImages
	ann, err := zstdchunked.ParseAnnotations(c.Annotations()) // rule "bad-annotations"
	if err != nil {
		return fail(d, from, err)
	}
	if c.Source() == nil {
		return fail(d, from, errors.New("no blob source to read the zstd:chunked metadata from"))
	}
	if err := ctx.Err(); err != nil {
		return fail(d, from, fmt.Errorf("loading zstd:chunked metadata: %w", err))
	}
	var zm *zstdchunked.Metadata
	meta, lay, err := loadWithLayout(c.TempDir(), func(sink toc.Sink) (metadata, error) {
		m, err := zstdchunked.Load(ctx, c.Source(), c.BlobSize(), ann, zstdchunked.Options{
			TempDir: c.TempDir(),
			Limits:  c.Limits(),
			Sink:    sink,
		})
		if err != nil {
			return nil, err
		}
		zm = m
		return zstdMeta{m}, nil
	})
	if err != nil {
		return loadFailed(d, from, convertImages, "zstd:chunked", err)
	}
	detail := "zstd:chunked TOC and tar-split verified"
	if !zm.HasTarSplit() {
		detail = "zstd:chunked TOC verified, no tar-split"
	}
	loaded, err := d.loaded(meta, lay, reg, detail)
	if err != nil {
		return err
	}
	if !zm.HasTarSplit() && !c.PullOptions().InsecureAllowUnpredictableImageContents { // rule "no-tar-split"
		return decline(d, loaded, convertImages, states.Because(states.CodeNoTarSplit,
			"the TOC has no tar-split, so the layer cannot be verified without %s", dcontext.KeyInsecureAllow), nil)
	}
	reg.openIndex()
	return nil
}

// loadEStargz runs the eStargz rules.
func (d *Differ) loadEStargz(ctx context.Context, c *dcontext.Context, reg *registry) error {
	from := uninitialized{}
	convertImages := c.PullOptions().ConvertImages
	// Rule "estargz-unverifiable", decided before any I/O: eStargz carries
	// no tar-split, so the layer's DiffID cannot be verified.
	if !c.PullOptions().InsecureAllowUnpredictableImageContents {
		return decline(d, from, convertImages, states.Because(states.CodeEStargzUnverifiable,
			"eStargz layers cannot be verified without %s", dcontext.KeyInsecureAllow), nil)
	}
	if c.Source() == nil {
		return fail(d, from, errors.New("no blob source to read the eStargz metadata from"))
	}
	if c.BlobSize() < 0 { // rule "blob-size-unknown"
		return decline(d, from, convertImages, states.Because(states.CodeBlobSizeUnknown,
			"the blob's size is unknown and eStargz locates its TOC from the blob's end"), nil)
	}
	if err := ctx.Err(); err != nil {
		return fail(d, from, fmt.Errorf("loading eStargz metadata: %w", err))
	}
	meta, lay, err := loadWithLayout(c.TempDir(), func(sink toc.Sink) (metadata, error) {
		m, err := estargz.Load(ctx, c.Source(), c.BlobSize(), c.TOCDigest(), estargz.Options{
			TempDir: c.TempDir(),
			Limits:  c.Limits(),
			Sink:    sink,
		})
		if err != nil {
			return nil, err
		}
		return estargzMeta{m}, nil
	})
	if err != nil {
		return loadFailed(d, from, convertImages, "eStargz", err)
	}
	if _, err := d.loaded(meta, lay, reg, "eStargz TOC verified"); err != nil {
		return err
	}
	reg.openIndex()
	return nil
}

// loadFailed decides what a failed metadata load means: the rules
// "environment" (code temp-space-short), "metadata-too-large" and
// "ranges-refused" decline; anything else is "bad-metadata".
func loadFailed(d *Differ, from uninitialized, convertImages bool, format string, err error) error {
	var (
		limit *formats.LimitError
		space *spool.NoSpaceError
	)
	switch {
	case errors.As(err, &space):
		return decline(d, from, convertImages, states.Because(states.CodeTempSpaceShort, "%s", space.Error()), err)
	case errors.As(err, &limit):
		return decline(d, from, convertImages, states.Because(states.CodeMetadataTooLarge, "%s", limit.Error()), err)
	case errors.Is(err, blob.ErrRangesRefused):
		return decline(d, from, convertImages, states.Because(states.CodeRangesRefused, "the source refused the metadata range request"), err)
	}
	return fail(d, from, fmt.Errorf("loading %s metadata: %w", format, err))
}

// loaded moves uninitialized → metadata-loaded with a registry origin.
func (d *Differ) loaded(m metadata, lay *layout.Layout, reg *registry, detail string) (metadataLoaded, error) {
	summary := m.summary()
	if l := d.ctx.Limits(); l.Streamed(summary.TOCCompressedSize, summary.TOCUncompressedSize) {
		// The path PolicyUpstream (and upstream) would not have taken.
		detail += fmt.Sprintf("; metadata policy %s: the TOC (%d bytes) is over upstream's in-memory limit of %d bytes, so it was streamed to disk instead of falling back",
			l.MetadataPolicy, max(summary.TOCCompressedSize, summary.TOCUncompressedSize), l.MaxTOCSize)
	}
	next := metadataLoaded{layer: loadedLayer{meta: m, layout: lay, origin: reg, summary: summary}}
	if err := advance(d, edgeLoad, next, states.Reason{Detail: detail}, summary.sizes()); err != nil {
		return metadataLoaded{}, err
	}
	return next, nil
}
