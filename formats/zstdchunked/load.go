package zstdchunked

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/blob"
	"github.com/chunkdiff/chunkdiff/internal/blobstream"
	"github.com/chunkdiff/chunkdiff/internal/diffid"
	"github.com/chunkdiff/chunkdiff/internal/spool"
	"github.com/opencontainers/go-digest"
)

// Load fetches, verifies and spools the TOC and the tar-split of a
// zstd:chunked blob of blobSize bytes located by ann. Sizes are checked
// against opts' limits before anything is allocated or requested (a
// *formats.LimitError); a refused range request returns an error matching
// blob.ErrRangesRefused. On error nothing is left open.
//
// The TOC is decoded once: the JSON and the tar-split are spooled
// verified, then one pass
// validates and counts the entries, checks them against the tar-split and
// hands them to opts.Sink.
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
	// Both are inflated to the temp dir, the name keys and what the sink
	// builds from the TOC are spooled there too: refuse before writing a byte if they cannot fit
	// (a *spool.NoSpaceError).
	// The name keys of the uniqueness check (16 bytes an entry, beyond a
	// constant) take less than the TOC's JSON.
	need := 2 * ann.TOC.UncompressedLength
	if ann.HasTarSplitPosition() {
		need += ann.TarSplit.UncompressedLength // each under an int64 limit: no overflow
	}
	if opts.Sink != nil {
		need = satAdd(need, opts.Sink.TempSpace(ann.TOC.UncompressedLength))
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
	finish := func() error {
		drained = true
		if err := st.Finish(ctx); err != nil {
			return fmt.Errorf("zstd:chunked: %w", err)
		}
		return nil
	}
	defer func() {
		if !drained {
			// Keep the source's own error next to ours: a short stream is
			// often explained by it.
			retErr = errors.Join(retErr, finish())
		}
	}()

	// TOC: verify and inflate to the spool.
	read := inflateVerified
	if opts.Uncompressed {
		read = copyVerified
	}
	if err := readRange(ctx, st, func(r io.Reader) error {
		return read(r, ann.TOC.Length, ann.TOCDigest, ann.TOC.UncompressedLength, m.tocFile, "TOC")
	}); err != nil {
		return nil, err
	}
	// The tar-split must be verified before it is read, and writers put
	// tarSplitDigest after the entries: a scan that steps over them (no
	// entry is decoded) finds it.
	top, err := toc.ScanTop(m.TOCJSON)
	if err != nil {
		return nil, fmt.Errorf("zstd:chunked TOC: %w", err)
	}
	m.TOCVersion = top.Version()
	m.TarSplitDigest = top.TarSplitDigest()
	dataEnd := int64(min(ann.TOC.Offset, math.MaxInt64))

	var headers *tarSplitHeaders
	switch {
	case m.TarSplitDigest != "" && !ann.HasTarSplitPosition():
		return nil, &AnnotationError{Key: AnnotationTarSplitPosition, Err: fmt.Errorf("missing, but the TOC has tarSplitDigest %s", m.TarSplitDigest)}
	case m.TarSplitDigest == "":
		// A tar-split the TOC does not name is unauthenticated, so
		// ignored: finish drains and closes it.
		if err := finish(); err != nil {
			return nil, err
		}
	default:
		if headers, err = m.readTarSplit(ctx, st, ann, read, opts.TempDir); err != nil {
			return nil, err
		}
		if err := finish(); err != nil {
			return nil, err
		}
	}

	// The one decoding pass: validation, counts, the TOC/tar-split
	// consistency check and the caller's sink.
	v, d, err := decodeOnce(m.TOCJSON, dataEnd, headers, opts.Sink, opts.TempDir)
	if err != nil {
		return nil, err
	}
	if d.Version() != m.TOCVersion || d.TarSplitDigest() != m.TarSplitDigest {
		// Same parser, same bytes: only a bug gets here.
		return nil, fmt.Errorf("zstd:chunked TOC: top-level fields differ between the scan and the decoding pass")
	}
	m.Counts = v.counts
	if headers != nil {
		m.UncompressedTarSize = headers.size
	}
	return m, nil
}

// readFunc verifies compLen bytes of src against want while writing their
// outLen-byte uncompressed form to dst (inflateVerified, copyVerified).
type readFunc func(src io.Reader, compLen uint64, want digest.Digest, outLen uint64, dst io.Writer, what string) error

// readTarSplit verifies the tar-split against the TOC's tarSplitDigest and
// inflates it to its spool; the headers are read back from there.
func (m *Metadata) readTarSplit(ctx context.Context, st *blobstream.Response, ann Annotations, read readFunc, tempDir string) (*tarSplitHeaders, error) {
	if err := m.TarSplitDigest.Validate(); err != nil {
		return nil, fmt.Errorf("zstd:chunked TOC tarSplitDigest %q: %w", m.TarSplitDigest, err)
	}
	ts, err := spool.Open(tempDir)
	if err != nil {
		return nil, fmt.Errorf("zstd:chunked tar-split spool: %w", err)
	}
	m.tarSplit = ts
	if err := readRange(ctx, st, func(r io.Reader) error {
		return read(r, ann.TarSplit.Length, m.TarSplitDigest, ann.TarSplit.UncompressedLength, diffid.LimitLineWriter(ts, diffid.MaxTarSplitLine), "tar-split")
	}); err != nil {
		return nil, err
	}
	m.TarSplitCompressedSize = ann.TarSplit.Length
	m.TarSplitSize = ann.TarSplit.UncompressedLength
	return newTarSplitHeaders(io.NewSectionReader(ts, 0, int64(m.TarSplitSize))), nil
}

// satAdd is a + b, saturated: free-space needs compare, never wrap.
func satAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
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
