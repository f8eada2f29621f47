package formats

import "fmt"

// Limits bound what a layer may make us fetch, allocate or spool. One rule
// for every field: zero means the default, negative is invalid.
type Limits struct {
	// MaxTOCSize caps the TOC's compressed and uncompressed length (for
	// eStargz: the TOC gzip member and the JSON it inflates to).
	MaxTOCSize int64 `json:"max_toc_size"`
	// MaxTarSplitSize caps the tar-split's compressed and uncompressed
	// length.
	MaxTarSplitSize int64 `json:"max_tar_split_size"`
	// MaxRangesPerRequest caps the ranges in one GetBlobAt call.
	MaxRangesPerRequest int `json:"max_ranges_per_request"`
	// AutoMergeGap: ranges separated by at most this many bytes are always
	// merged.
	AutoMergeGap int64 `json:"auto_merge_gap"`
}

// The defaults, each with the reason it exists.
const (
	// DefaultMaxTOCSize is upstream's maxTocSize (150 MiB). The TOC is
	// verified as a whole before use and handed to the store as one
	// in-memory big-data item, so a hostile annotation must not make us
	// fetch or inflate gigabytes; a layer over it falls back to an ordinary
	// pull (rule "metadata-too-large").
	DefaultMaxTOCSize = 150 << 20
	// DefaultMaxTarSplitSize (4 GiB): upstream has no limit and reads the
	// tar-split whole into memory; we stream it to a temp file, so this is
	// a bound on disk use rather than memory, large enough for millions of
	// entries.
	DefaultMaxTarSplitSize = 4 << 30
	// DefaultMaxRangesPerRequest is upstream's maxNumberMissingChunks:
	// registries and proxies reject over-long Range headers.
	DefaultMaxRangesPerRequest = 1024
	// DefaultAutoMergeGap is upstream's autoMergePartsThreshold (1 KiB):
	// fetching a small gap costs less than another range.
	DefaultAutoMergeGap = 1024
)

// MaxZstdWindow caps the zstd window a frame header may ask a decoder for.
// Writers use at most 8 MiB (the size RFC 8878 asks decoders to support);
// 32 MiB leaves room without letting one hostile header make a decoder
// allocate hundreds of MiB.
const MaxZstdWindow = 32 << 20

// DefaultLimits returns the defaults.
func DefaultLimits() Limits {
	return Limits{
		MaxTOCSize:          DefaultMaxTOCSize,
		MaxTarSplitSize:     DefaultMaxTarSplitSize,
		MaxRangesPerRequest: DefaultMaxRangesPerRequest,
		AutoMergeGap:        DefaultAutoMergeGap,
	}
}

// WithDefaults fills zero fields with the defaults and rejects negative ones.
func (l Limits) WithDefaults() (Limits, error) {
	d := DefaultLimits()
	switch {
	case l.MaxTOCSize < 0:
		return l, fmt.Errorf("limit MaxTOCSize is negative (%d)", l.MaxTOCSize)
	case l.MaxTarSplitSize < 0:
		return l, fmt.Errorf("limit MaxTarSplitSize is negative (%d)", l.MaxTarSplitSize)
	case l.MaxRangesPerRequest < 0:
		return l, fmt.Errorf("limit MaxRangesPerRequest is negative (%d)", l.MaxRangesPerRequest)
	case l.AutoMergeGap < 0:
		return l, fmt.Errorf("limit AutoMergeGap is negative (%d)", l.AutoMergeGap)
	}
	if l.MaxTOCSize == 0 {
		l.MaxTOCSize = d.MaxTOCSize
	}
	if l.MaxTarSplitSize == 0 {
		l.MaxTarSplitSize = d.MaxTarSplitSize
	}
	if l.MaxRangesPerRequest == 0 {
		l.MaxRangesPerRequest = d.MaxRangesPerRequest
	}
	if l.AutoMergeGap == 0 {
		l.AutoMergeGap = d.AutoMergeGap
	}
	return l, nil
}
