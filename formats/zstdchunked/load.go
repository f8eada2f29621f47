package zstdchunked

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/chunkdiff/chunkdiff/internal/blob"
	"github.com/chunkdiff/chunkdiff/internal/blobstream"
	"github.com/chunkdiff/chunkdiff/internal/diffid"
	"github.com/chunkdiff/chunkdiff/internal/spool"
)

// Load fetches, verifies and spools the TOC and the tar-split of a
// zstd:chunked blob of blobSize bytes located by ann. Sizes are checked
// against opts' limits before anything is allocated or requested (a
// *formats.LimitError); a refused range request returns an error matching
// blob.ErrRangesRefused. On error nothing is left open.
//
// A TOC without tarSplitDigest gives Metadata without tar-split (the caller
// decides what that means); a TOC with one but no annotated tar-split
// position is an error.
func Load(ctx context.Context, src blob.Source, blobSize int64, ann Annotations, opts Options) (_ *Metadata, retErr error) {
	limits, err := opts.Limits.WithDefaults()
	if err != nil {
		return nil, fmt.Errorf("zstd:chunked: %w", err)
	}
	if err := checkLimits(ann, limits); err != nil {
		return nil, err
	}
	if err := checkLayout(ann, blobSize); err != nil {
		return nil, err
	}
	if err := ann.TOCDigest.Validate(); err != nil {
		return nil, fmt.Errorf("zstd:chunked TOC digest %q: %w", ann.TOCDigest, err)
	}

	m := &Metadata{
		TOCDigest:           ann.TOCDigest,
		TOCOffset:           ann.TOC.Offset,
		TOCCompressedSize:   ann.TOC.Length,
		TOCUncompressedSize: ann.TOC.UncompressedLength,
		UncompressedTarSize: -1,
	}
	defer func() {
		if retErr != nil {
			_ = m.Close() // temp files only: the load error is what matters
		}
	}()
	// Both are inflated to the temp dir: refuse before writing a byte if
	// they cannot fit (a *spool.NoSpaceError).
	need := ann.TOC.UncompressedLength
	if ann.HasTarSplitPosition() {
		need += ann.TarSplit.UncompressedLength // each under an int64 limit: no overflow
	}
	if err := spool.CheckFree(opts.TempDir, need); err != nil {
		return nil, fmt.Errorf("zstd:chunked: %w", err)
	}
	if m.tocFile, err = spool.Open(opts.TempDir); err != nil {
		return nil, fmt.Errorf("zstd:chunked TOC spool: %w", err)
	}

	ranges := []blob.Range{{Offset: ann.TOC.Offset, Length: ann.TOC.Length}}
	if ann.HasTarSplitPosition() {
		ranges = append(ranges, blob.Range{Offset: ann.TarSplit.Offset, Length: ann.TarSplit.Length})
	}
	st, err := blobstream.Get(ctx, src, ranges) // ends with ctx even if the source does not
	if err != nil {
		// A refusal stays matchable as blob.ErrRangesRefused.
		return nil, fmt.Errorf("zstd:chunked: requesting TOC and tar-split: %w", err)
	}
	drained := false
	defer func() {
		if !drained {
			if err := st.Finish(ctx); err != nil {
				// Keep the source's own error next to ours: a short
				// stream is often explained by it.
				retErr = errors.Join(retErr, fmt.Errorf("zstd:chunked: %w", err))
			}
		}
	}()

	// TOC: verify, inflate to the spool, then validate and count.
	read := inflateVerified
	if opts.Uncompressed {
		read = copyVerified
	}
	if err := readRange(ctx, st, func(r io.Reader) error {
		return read(r, ann.TOC.Length, ann.TOCDigest, ann.TOC.UncompressedLength, m.tocFile, "TOC")
	}); err != nil {
		return nil, err
	}
	v, d, err := scanTOC(m.TOCJSON(), int64(min(ann.TOC.Offset, math.MaxInt64)))
	if err != nil {
		return nil, err
	}
	m.Counts = v.counts
	m.TOCVersion = d.Version()
	m.TarSplitDigest = d.TarSplitDigest()

	switch {
	case m.TarSplitDigest != "" && !ann.HasTarSplitPosition():
		return nil, &AnnotationError{Key: AnnotationTarSplitPosition, Err: fmt.Errorf("missing, but the TOC has tarSplitDigest %s", m.TarSplitDigest)}
	case m.TarSplitDigest == "" && ann.HasTarSplitPosition():
		// Unauthenticated, so ignored; finish drains and closes it.
		drained = true
		if err := st.Finish(ctx); err != nil {
			return nil, fmt.Errorf("zstd:chunked: %w", err)
		}
		return m, nil
	case m.TarSplitDigest == "":
		return m, nil
	}

	if err := m.TarSplitDigest.Validate(); err != nil {
		return nil, fmt.Errorf("zstd:chunked TOC tarSplitDigest %q: %w", m.TarSplitDigest, err)
	}
	ts, err := spool.Open(opts.TempDir)
	if err != nil {
		return nil, fmt.Errorf("zstd:chunked tar-split spool: %w", err)
	}
	m.tarSplit = ts
	if err := readRange(ctx, st, func(r io.Reader) error {
		return read(r, ann.TarSplit.Length, m.TarSplitDigest, ann.TarSplit.UncompressedLength, diffid.LimitLineWriter(ts, diffid.MaxTarSplitLine), "tar-split")
	}); err != nil {
		return nil, err
	}
	drained = true
	if err := st.Finish(ctx); err != nil {
		return nil, fmt.Errorf("zstd:chunked: %w", err)
	}
	m.TarSplitCompressedSize = ann.TarSplit.Length
	m.TarSplitSize = ann.TarSplit.UncompressedLength

	entries, err := m.Entries()
	if err != nil {
		return nil, err
	}
	headers := newTarSplitHeaders(io.NewSectionReader(ts, 0, int64(m.TarSplitSize)))
	if err := checkConsistency(entries, headers, v.names); err != nil {
		return nil, err
	}
	m.UncompressedTarSize = headers.size
	return m, nil
}

// readRange takes the next stream, hands it to fn and closes it.
func readRange(ctx context.Context, st *blobstream.Response, fn func(io.Reader) error) error {
	rc, err := st.Next(ctx)
	if err != nil {
		return fmt.Errorf("zstd:chunked: %w", err)
	}
	defer rc.Close()
	return fn(rc)
}
