package differ

import (
	"context"
	"errors"
	"fmt"

	dcontext "github.com/chunkdiff/chunkdiff/differ/context"
	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/formats"
	"github.com/chunkdiff/chunkdiff/formats/estargz"
	"github.com/chunkdiff/chunkdiff/formats/zstdchunked"
	"github.com/chunkdiff/chunkdiff/internal/blob"
)

// load runs the format-specific rows of the decision matrix (BEHAVIOUR §3).
func (d *Differ) load(ctx context.Context, c *dcontext.Context) error {
	switch c.Format() {
	case dcontext.FormatZstdChunked:
		return d.loadZstdChunked(ctx, c)
	case dcontext.FormatEStargz:
		return d.loadEStargz(ctx, c)
	default: // row 19
		return d.decline(states.Because(states.CodeNoTOC, "the layer has no TOC annotation"), nil)
	}
}

func (d *Differ) loadZstdChunked(ctx context.Context, c *dcontext.Context) error {
	ann, err := zstdchunked.ParseAnnotations(c.Annotations()) // row 6
	if err != nil {
		return d.fail(err)
	}
	if c.Source() == nil {
		return d.fail(errors.New("no blob source to read the zstd:chunked metadata from"))
	}
	if err := ctx.Err(); err != nil {
		return d.fail(fmt.Errorf("loading zstd:chunked metadata: %w", err))
	}
	meta, err := zstdchunked.Load(ctx, c.Source(), c.BlobSize(), ann, zstdchunked.Options{
		TempDir: c.TempDir(),
		Limits:  c.Limits(),
	})
	var limit *formats.LimitError
	switch {
	case errors.As(err, &limit): // row 7
		return d.decline(states.Because(states.CodeMetadataTooLarge, "%s", limit.Error()), err)
	case errors.Is(err, blob.ErrRangesRefused): // row 8
		return d.decline(states.Because(states.CodeRangesRefused, "the source refused the metadata range request"), err)
	case err != nil: // rows 9-11
		return d.fail(fmt.Errorf("loading zstd:chunked metadata: %w", err))
	}
	detail := "zstd:chunked TOC and tar-split verified"
	if !meta.HasTarSplit() {
		detail = "zstd:chunked TOC verified, no tar-split"
	}
	if err := d.loaded(zstdMeta{meta}, detail); err != nil {
		return err
	}
	if !meta.HasTarSplit() && !c.PullOptions().InsecureAllowUnpredictableImageContents { // row 12
		return d.decline(states.Because(states.CodeNoTarSplit,
			"the TOC has no tar-split, so the layer cannot be verified without %s", dcontext.KeyInsecureAllow), nil)
	}
	return nil
}

// loadEStargz runs rows 13-18.
func (d *Differ) loadEStargz(ctx context.Context, c *dcontext.Context) error {
	// Row 13, decided before any I/O: eStargz carries no tar-split, so the
	// layer's DiffID cannot be verified.
	if !c.PullOptions().InsecureAllowUnpredictableImageContents {
		return d.decline(states.Because(states.CodeEStargzUnverifiable,
			"eStargz layers cannot be verified without %s", dcontext.KeyInsecureAllow), nil)
	}
	if c.Source() == nil {
		return d.fail(errors.New("no blob source to read the eStargz metadata from"))
	}
	if err := ctx.Err(); err != nil {
		return d.fail(fmt.Errorf("loading eStargz metadata: %w", err))
	}
	meta, err := estargz.Load(ctx, c.Source(), c.BlobSize(), c.TOCDigest(), estargz.Options{
		TempDir: c.TempDir(),
		Limits:  c.Limits(),
	})
	var limit *formats.LimitError
	switch {
	case errors.As(err, &limit): // row 17
		return d.decline(states.Because(states.CodeMetadataTooLarge, "%s", limit.Error()), err)
	case errors.Is(err, blob.ErrRangesRefused): // row 15
		return d.decline(states.Because(states.CodeRangesRefused, "the source refused the metadata range request"), err)
	case err != nil: // rows 14, 16, 18
		return d.fail(fmt.Errorf("loading eStargz metadata: %w", err))
	}
	return d.loaded(estargzMeta{meta}, "eStargz TOC verified")
}

// loaded records the metadata summary and enters metadata-loaded.
func (d *Differ) loaded(m metadata, detail string) error {
	summary := m.summary()
	d.mu.Lock()
	d.meta = &summary
	d.mu.Unlock()
	if err := d.advance(states.Load, states.Reason{Detail: detail}, summary.sizes(), metadataLoaded{meta: m}); err != nil {
		_ = m.Close()
		return err
	}
	return nil
}
