// Package estargz reads the metadata of eStargz layers (FORMATS.md "eStargz") for
// partial pulls: the footer, then the TOC, verified against the TOC digest
// annotation, validated and spooled to disk. It mirrors formats/zstdchunked
// so the differ can treat both formats alike.
package estargz

import (
	"context"
	"fmt"
	"io"

	"github.com/chunkdiff/chunkdiff/formats"
	"github.com/chunkdiff/chunkdiff/internal/blob"
	"github.com/chunkdiff/chunkdiff/internal/spool"
	"github.com/opencontainers/go-digest"
)

// Load fetches the footer and then the TOC of an eStargz blob of blobSize
// bytes, in two GetBlobAt calls, and verifies the TOC JSON against
// tocDigest. A TOC member over opts' limit is refused from the footer alone,
// before the TOC is requested (a *formats.LimitError); a refused range request
// returns an error matching blob.ErrRangesRefused. On error nothing is left open.
func Load(ctx context.Context, src blob.Source, blobSize int64, tocDigest digest.Digest, opts Options) (_ *Metadata, retErr error) {
	limits, err := opts.Limits.WithDefaults()
	if err != nil {
		return nil, fmt.Errorf("eStargz: %w", err)
	}
	maxTOC := uint64(limits.MaxTOC())
	if blobSize <= FooterSize {
		return nil, &formats.LayoutError{Format: formats.EStargz, What: fmt.Sprintf("blob size %d is not larger than the %d-byte footer", blobSize, FooterSize)}
	}
	// Checked before any request: Digester would panic on an unknown
	// algorithm.
	if err := tocDigest.Validate(); err != nil {
		return nil, fmt.Errorf("eStargz TOC digest %q: %w", tocDigest, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("eStargz: %w", err)
	}

	footerAt := blobSize - FooterSize
	var tocOffset int64
	if err := fetchRange(ctx, src, blob.Range{Offset: uint64(footerAt), Length: FooterSize}, "footer", func(r io.Reader) error {
		var b [FooterSize]byte
		if n, err := io.ReadFull(r, b[:]); err != nil {
			return fmt.Errorf("eStargz footer: got %d of %d bytes: %w", n, FooterSize, err)
		}
		var err error
		tocOffset, err = ParseFooter(b[:])
		return err
	}); err != nil {
		return nil, err
	}

	switch {
	case tocOffset >= blobSize:
		return nil, &formats.LayoutError{Format: formats.EStargz, What: fmt.Sprintf("TOC offset %d is beyond the blob (size %d)", tocOffset, blobSize)}
	case tocOffset >= footerAt:
		return nil, &formats.LayoutError{Format: formats.EStargz, What: fmt.Sprintf("TOC offset %d is inside the footer (at %d)", tocOffset, footerAt)}
	}
	tocLen := footerAt - tocOffset
	if uint64(tocLen) > maxTOC {
		return nil, &formats.LimitError{Format: formats.EStargz, What: "TOC gzip member size", Size: uint64(tocLen), Limit: maxTOC}
	}

	m := &Metadata{
		TOCDigest:           tocDigest,
		TOCOffset:           uint64(tocOffset),
		TOCCompressedSize:   uint64(tocLen),
		UncompressedTarSize: -1,
	}
	defer func() {
		if retErr != nil {
			_ = m.Close() // read-only use so far: nothing to lose
		}
	}()
	// The JSON's size is known only once inflated: the member's own size
	// is the least it needs (a *spool.NoSpaceError).
	if err := spool.CheckFree(opts.TempDir, uint64(tocLen)); err != nil {
		return nil, fmt.Errorf("eStargz: %w", err)
	}
	if m.tocFile, err = spool.Open(opts.TempDir); err != nil {
		return nil, fmt.Errorf("eStargz TOC spool: %w", err)
	}

	var jsonLen int64
	if err := fetchRange(ctx, src, blob.Range{Offset: uint64(tocOffset), Length: uint64(tocLen)}, "TOC", func(r io.Reader) error {
		var err error
		jsonLen, err = readTOCMember(r, tocLen, maxTOC, tocDigest, m.tocFile)
		return err
	}); err != nil {
		return nil, err
	}
	m.TOCUncompressedSize = uint64(jsonLen)
	if opts.Sink != nil {
		// Now that the JSON's size is known: room for what the sink spools.
		if err := spool.CheckFree(opts.TempDir, opts.Sink.TempSpace(m.TOCUncompressedSize)); err != nil {
			return nil, fmt.Errorf("eStargz: %w", err)
		}
	}

	// The one decoding pass: validation, counts and the caller's sink.
	v, d, err := decodeOnce(m.TOCJSON(), tocOffset, opts.Sink)
	if err != nil {
		return nil, err
	}
	m.Counts = v.counts
	m.TOCVersion = d.Version()
	return m, nil
}
