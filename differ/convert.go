package differ

import (
	"context"
	"errors"
	"fmt"

	"github.com/chunkdiff/chunkdiff/convert"
	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/formats/zstdchunked"
	"github.com/chunkdiff/chunkdiff/internal/source"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/chunked"
)

// convert runs the convert edge: download the whole blob, verify it,
// convert it to the local zstd:chunked variant and load that, ending in
// metadata-loaded with the local TOC.
func (d *Differ) convert(p convertPending, dest string, differOpts *graphdriver.DifferOptions) (metadataLoaded, error) {
	c := d.Context()
	if c.Source() == nil {
		return metadataLoaded{}, d.fail(errors.New("convert_images: no blob source"))
	}
	// Scratch space on the destination's filesystem; the files are
	// unlinked at once, so nothing is left behind on any exit.
	dir := differOpts.StagingDirectory
	if dir == "" {
		dir = dest
	}
	ctx := context.Background()
	local, err := convert.FetchAndConvert(ctx, c.Source(), c.BlobSize(), c.BlobDigest(), dir)
	if bad := (chunked.ErrBadRequest{}); errors.As(err, &bad) {
		// No ranges at all, not even the whole blob as one: an ordinary
		// download may still work, as containers/image falls back on this
		// error from PrepareStagedLayer too.
		r := states.Because(states.CodeRangesRefused, "the source refused the whole-blob request for convert_images (%s)", p.reason)
		_ = d.releaseCurrent()
		if aerr := d.advance(states.FallBack, r, nil, fallback{reason: r}); aerr != nil {
			return metadataLoaded{}, aerr
		}
		return metadataLoaded{}, fallbackError(r, err)
	}
	if err != nil {
		return metadataLoaded{}, d.fail(fmt.Errorf("convert_images: %w", err))
	}
	limits := c.Limits()
	src := source.NewReaderAt(local.File, local.Size)
	meta, err := zstdchunked.Load(ctx, src, local.Size, local.Annotations, zstdchunked.Options{
		TempDir: dir, Uncompressed: true,
		MaxTOCSize: uint64(limits.MaxTOCSize), MaxTarSplitSize: uint64(limits.MaxTarSplitSize),
	})
	if err != nil {
		_ = local.Close()
		return metadataLoaded{}, d.fail(fmt.Errorf("convert_images: loading the converted layer: %w", err))
	}
	cm := newConvertedMeta(meta, local, src)
	summary := cm.summary()
	d.mu.Lock()
	d.meta = &summary
	d.mu.Unlock()
	reason := states.Reason{Detail: fmt.Sprintf("downloaded the whole %s blob (%d bytes) and converted it locally, because %s",
		local.Compression, local.BlobBytes, p.reason)}
	sizes := map[string]int64{"blob_bytes": local.BlobBytes, "tar_bytes": local.TarSize, "entries": int64(summary.Entries)}
	next := metadataLoaded{meta: cm}
	if err := d.advance(states.Convert, reason, sizes, next); err != nil {
		_ = cm.Close()
		return metadataLoaded{}, err
	}
	return next, nil
}
