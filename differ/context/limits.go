package dcontext

import "github.com/chunkdiff/chunkdiff/formats"

// Limits bound what a layer may make the differ fetch, allocate or spool;
// defined (with the reason for each default) in package formats, so the
// parsers and the differ share one type and one zero-value rule.
type Limits = formats.Limits

// Default limit values (see formats).
const (
	DefaultMaxTOCSize          = formats.DefaultMaxTOCSize
	DefaultMaxTarSplitSize     = formats.DefaultMaxTarSplitSize
	DefaultMaxRangesPerRequest = formats.DefaultMaxRangesPerRequest
	DefaultAutoMergeGap        = formats.DefaultAutoMergeGap
)

// DefaultLimits returns the defaults documented in package formats.
func DefaultLimits() Limits { return formats.DefaultLimits() }
