package zstdchunked

import (
	"fmt"
	"math"

	"github.com/chunkdiff/chunkdiff/formats"
)

// trailerSize is the footer skippable frame (8-byte header + 64 bytes),
// always the last bytes of the blob (FORMATS.md "zstd-footer").
const trailerSize = 8 + 64

// skippableHeader precedes the TOC's and the tar-split's user data.
const skippableHeader = 8

// checkLimits runs before anything is allocated or requested.
// l has its defaults filled in.
func checkLimits(a Annotations, l formats.Limits) error {
	maxTOC, maxTarSplit := uint64(l.MaxTOC()), uint64(l.MaxTarSplitSize)
	over := func(what string, size, limit uint64) error {
		return &formats.LimitError{Format: formats.ZstdChunked, What: what, Size: size, Limit: limit}
	}
	if a.TOC.Length > maxTOC {
		return over("TOC compressed size", a.TOC.Length, maxTOC)
	}
	if a.TOC.UncompressedLength > maxTOC {
		return over("TOC uncompressed size", a.TOC.UncompressedLength, maxTOC)
	}
	if a.HasTarSplitPosition() {
		if a.TarSplit.Length > maxTarSplit {
			return over("tar-split compressed size", a.TarSplit.Length, maxTarSplit)
		}
		if a.TarSplit.UncompressedLength > maxTarSplit {
			return over("tar-split uncompressed size", a.TarSplit.UncompressedLength, maxTarSplit)
		}
	}
	return nil
}

// checkLayout checks that the positions fit in the blob, in writer order:
// data, TOC, tar-split, footer. Requiring the tar-split after the TOC (as
// every writer puts it) lets us verify it in one streaming pass, since its
// digest is in the TOC. blobSize -1 (unknown, as upstream accepts) checks
// the order only: the annotations locate the metadata, and a range past the
// blob's end fails when it is requested.
func checkLayout(a Annotations, blobSize int64) error {
	end := uint64(math.MaxUint64)
	if blobSize >= 0 {
		if blobSize < trailerSize {
			return &formats.LayoutError{Format: formats.ZstdChunked, What: fmt.Sprintf("blob size %d is smaller than the %d-byte footer", blobSize, trailerSize)}
		}
		end = uint64(blobSize) - trailerSize
	}
	if a.TOC.Offset < skippableHeader {
		return &formats.LayoutError{Format: formats.ZstdChunked, What: fmt.Sprintf("TOC offset %d is before the end of its frame header", a.TOC.Offset)}
	}
	if a.TOC.Length == 0 {
		return &formats.LayoutError{Format: formats.ZstdChunked, What: "TOC length is 0"}
	}
	if a.TOC.Offset > math.MaxUint64-a.TOC.Length || a.TOC.Offset+a.TOC.Length > end {
		return &formats.LayoutError{Format: formats.ZstdChunked, What: fmt.Sprintf("TOC range offset %d length %d extends past %d (blob size %d minus footer)", a.TOC.Offset, a.TOC.Length, end, blobSize)}
	}
	if !a.HasTarSplitPosition() {
		return nil
	}
	tocEnd := a.TOC.Offset + a.TOC.Length
	if a.TarSplit.Length == 0 {
		return &formats.LayoutError{Format: formats.ZstdChunked, What: "tar-split length is 0"}
	}
	if a.TarSplit.Offset > math.MaxUint64-a.TarSplit.Length || a.TarSplit.Offset+a.TarSplit.Length > end {
		return &formats.LayoutError{Format: formats.ZstdChunked, What: fmt.Sprintf("tar-split range offset %d length %d extends past %d (blob size %d minus footer)", a.TarSplit.Offset, a.TarSplit.Length, end, blobSize)}
	}
	if a.TarSplit.Offset < tocEnd {
		return &formats.LayoutError{Format: formats.ZstdChunked, What: fmt.Sprintf("tar-split range offset %d length %d overlaps or precedes the TOC range ending at %d", a.TarSplit.Offset, a.TarSplit.Length, tocEnd)}
	}
	return nil
}
