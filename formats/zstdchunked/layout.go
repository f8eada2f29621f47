package zstdchunked

import (
	"fmt"
	"math"
)

// trailerSize is the footer skippable frame (8-byte header + 64 bytes),
// always the last bytes of the blob (FORMATS §1.4).
const trailerSize = 8 + 64

// skippableHeader precedes the TOC's and the tar-split's user data.
const skippableHeader = 8

// checkLimits runs before anything is allocated or requested.
func checkLimits(a Annotations, o Options) error {
	maxTOC := o.maxTOC()
	if a.TOC.Length > maxTOC {
		return &LimitError{What: "TOC compressed size", Size: a.TOC.Length, Limit: maxTOC}
	}
	if a.TOC.UncompressedLength > maxTOC {
		return &LimitError{What: "TOC uncompressed size", Size: a.TOC.UncompressedLength, Limit: maxTOC}
	}
	if a.HasTarSplitPosition() && o.MaxTarSplitSize != 0 {
		if a.TarSplit.Length > o.MaxTarSplitSize {
			return &LimitError{What: "tar-split compressed size", Size: a.TarSplit.Length, Limit: o.MaxTarSplitSize}
		}
		if a.TarSplit.UncompressedLength > o.MaxTarSplitSize {
			return &LimitError{What: "tar-split uncompressed size", Size: a.TarSplit.UncompressedLength, Limit: o.MaxTarSplitSize}
		}
	}
	return nil
}

// checkLayout checks that the positions fit in the blob, in writer order:
// data, TOC, tar-split, footer. Requiring the tar-split after the TOC (as
// every writer puts it) lets us verify it in one streaming pass, since its
// digest is in the TOC.
func checkLayout(a Annotations, blobSize int64) error {
	if blobSize < trailerSize || blobSize < 0 {
		return &LayoutError{What: fmt.Sprintf("blob size %d is smaller than the %d-byte footer", blobSize, trailerSize)}
	}
	end := uint64(blobSize) - trailerSize
	if a.TOC.Offset < skippableHeader {
		return &LayoutError{What: fmt.Sprintf("TOC offset %d is before the end of its frame header", a.TOC.Offset)}
	}
	if a.TOC.Length == 0 {
		return &LayoutError{What: "TOC length is 0"}
	}
	if a.TOC.Offset > math.MaxUint64-a.TOC.Length || a.TOC.Offset+a.TOC.Length > end {
		return &LayoutError{What: fmt.Sprintf("TOC range offset %d length %d extends past %d (blob size %d minus footer)", a.TOC.Offset, a.TOC.Length, end, blobSize)}
	}
	if !a.HasTarSplitPosition() {
		return nil
	}
	tocEnd := a.TOC.Offset + a.TOC.Length
	if a.TarSplit.Length == 0 {
		return &LayoutError{What: "tar-split length is 0"}
	}
	if a.TarSplit.Offset > math.MaxUint64-a.TarSplit.Length || a.TarSplit.Offset+a.TarSplit.Length > end {
		return &LayoutError{What: fmt.Sprintf("tar-split range offset %d length %d extends past %d (blob size %d minus footer)", a.TarSplit.Offset, a.TarSplit.Length, end, blobSize)}
	}
	if a.TarSplit.Offset < tocEnd {
		return &LayoutError{What: fmt.Sprintf("tar-split range offset %d length %d overlaps or precedes the TOC range ending at %d", a.TarSplit.Offset, a.TarSplit.Length, tocEnd)}
	}
	return nil
}
