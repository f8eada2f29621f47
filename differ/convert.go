package differ

import (
	"errors"
	"fmt"

	"github.com/chunkdiff/chunkdiff/convert"
	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/formats/zstdchunked"
	"github.com/chunkdiff/chunkdiff/internal/blob/seekable"
	"github.com/chunkdiff/chunkdiff/internal/source"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/chunked"
)

// convert runs the convert edge: download the whole blob, verify it,
// convert it to the local zstd:chunked variant and load that, ending in
// metadata-loaded with a converted origin. p is claimed by the caller.
func (d *Differ) convert(p convertPending, dest string, differOpts *graphdriver.DifferOptions) (metadataLoaded, error) {
	c := d.ctx
	if c.Source() == nil {
		return metadataLoaded{}, fail(d, p, errors.New("convert_images: no blob source"))
	}
	// Scratch space on the destination's filesystem; the files are
	// unlinked at once, so nothing is left behind on any exit.
	dir := differOpts.StagingDirectory
	if dir == "" {
		dir = dest
	}
	ctx := d.runCtx()
	local, err := convert.FetchAndConvert(ctx, seekable.Chunked(c.Source()), c.BlobSize(), c.BlobDigest(), dir)
	if bad := (chunked.ErrBadRequest{}); errors.As(err, &bad) {
		// No ranges at all, not even the whole blob as one: an ordinary
		// download may still work, as containers/image falls back on this
		// error from PrepareStagedLayer too.
		r := states.Because(states.CodeRangesRefused, "the source refused the whole-blob request for convert_images (%s)", p.reason)
		if lerr := leave(d, p, states.FallBack, r, func(seen findings) phase { return fallback{reason: r, seen: seen} }); lerr != nil {
			return metadataLoaded{}, lerr
		}
		return metadataLoaded{}, fallbackError(r, err)
	}
	if err != nil {
		return metadataLoaded{}, fail(d, p, fmt.Errorf("convert_images: %w", err))
	}
	src := source.NewReaderAt(local.File, local.Size)
	m, lay, err := loadWithLayout(dir, func(sink toc.Sink) (metadata, error) {
		meta, err := zstdchunked.Load(ctx, seekable.From(src), local.Size, local.Annotations, zstdchunked.Options{
			TempDir: dir, Uncompressed: true, Limits: c.Limits(), Sink: sink,
		})
		if err != nil {
			return nil, err
		}
		return zstdMeta{meta}, nil
	})
	if err != nil {
		_ = local.Close()
		return metadataLoaded{}, fail(d, p, fmt.Errorf("convert_images: loading the converted layer: %w", err))
	}
	summary := m.summary()
	reason := states.Reason{Detail: fmt.Sprintf("downloaded the whole %s blob (%d bytes) and converted it locally, because %s",
		local.Compression, local.BlobBytes, p.reason)}
	sizes := map[string]int64{"blob_bytes": local.BlobBytes, "tar_bytes": local.TarSize, "entries": int64(summary.Entries)}
	next := metadataLoaded{layer: loadedLayer{
		meta:    m,
		layout:  lay,
		origin:  &converted{local: local, src: src, reason: p.reason},
		summary: summary,
	}}
	// Held: applyLoaded goes on with it at once.
	if err := advanceHolding(d, edgeConvert, next, reason, sizes); err != nil {
		return metadataLoaded{}, err
	}
	return next, nil
}
