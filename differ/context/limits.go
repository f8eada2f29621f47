package dcontext

import "fmt"

// Limits bound what a layer may make the differ fetch, allocate or spool.
// Zero values are replaced by the defaults; negative values are invalid.
type Limits struct {
	// MaxTOCSize caps the TOC's compressed and uncompressed length. The TOC
	// is verified as a whole before use and (today) handed to the store as
	// one in-memory big-data item, so a hostile annotation must not make us
	// fetch or inflate gigabytes. Default: 150 MiB, upstream's maxTocSize; a
	// layer over it falls back to an ordinary pull (BEHAVIOUR §3 row 7).
	MaxTOCSize int64 `json:"max_toc_size"`
	// MaxTarSplitSize caps the tar-split's compressed and uncompressed length.
	// Upstream has no limit and reads it whole into memory; we stream it to
	// a temp file, so the default is DefaultMaxTarSplitSize, a bound on disk
	// use rather than memory, large enough for millions of entries.
	MaxTarSplitSize int64 `json:"max_tar_split_size"`
	// MaxRangesPerRequest caps the ranges in one GetBlobAt call: registries
	// and proxies reject over-long Range headers. Default: 1024, upstream's
	// maxNumberMissingChunks.
	MaxRangesPerRequest int `json:"max_ranges_per_request"`
	// AutoMergeGap: ranges separated by at most this many bytes are always
	// merged; fetching a small gap costs less than another range. Default:
	// 1024 bytes, upstream's autoMergePartsThreshold.
	AutoMergeGap int64 `json:"auto_merge_gap"`
}

// Default limit values.
const (
	DefaultMaxTOCSize          = 150 << 20
	DefaultMaxTarSplitSize     = 4 << 30
	DefaultMaxRangesPerRequest = 1024
	DefaultAutoMergeGap        = 1024
)

// DefaultLimits returns the defaults documented on Limits.
func DefaultLimits() Limits {
	return Limits{
		MaxTOCSize:          DefaultMaxTOCSize,
		MaxTarSplitSize:     DefaultMaxTarSplitSize,
		MaxRangesPerRequest: DefaultMaxRangesPerRequest,
		AutoMergeGap:        DefaultAutoMergeGap,
	}
}

// withDefaults fills zero fields and rejects negative ones.
func (l Limits) withDefaults() (Limits, error) {
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
