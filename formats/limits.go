package formats

import "fmt"

// Limits bound what a layer may make us fetch, allocate or spool. One rule
// for every field: zero means the default, negative is invalid.
type Limits struct {
	// MetadataPolicy decides what a TOC over MaxTOCSize does; "" is
	// PolicyStream.
	MetadataPolicy MetadataPolicy `json:"metadata_policy"`
	// MaxTOCSize is upstream's in-memory TOC limit, on the TOC's compressed
	// and uncompressed length (for eStargz: the TOC gzip member and the
	// JSON it inflates to). Over it, PolicyUpstream falls back and
	// PolicyStream streams, recording that it did.
	MaxTOCSize int64 `json:"max_toc_size"`
	// MaxTarSplitSize caps the tar-split's compressed and uncompressed
	// length, and under PolicyStream the TOC's too: both are spooled to
	// disk, so this bounds disk use, not memory.
	MaxTarSplitSize int64 `json:"max_tar_split_size"`
	// MaxRangesPerRequest caps the ranges in one GetBlobAt call.
	MaxRangesPerRequest int `json:"max_ranges_per_request"`
	// AutoMergeGap: ranges separated by at most this many bytes are always
	// merged.
	AutoMergeGap int64 `json:"auto_merge_gap"`
}

// MetadataPolicy is what the differ does with a TOC larger than upstream
// accepts (storage#2232).
type MetadataPolicy string

const (
	// PolicyStream (the default) pulls metadata of any size partially: the
	// TOC and tar-split are inflated to temp files while their digests are
	// checked and decoded from there, never held whole in memory, so their
	// size is bounded by disk (MaxTarSplitSize and the temp dir's free
	// space), not by memory.
	PolicyStream MetadataPolicy = "stream"
	// PolicyUpstream is upstream's rule: a TOC over MaxTOCSize falls back
	// to an ordinary pull, or is a hard error with convert_images (rule
	// "metadata-too-large").
	PolicyUpstream MetadataPolicy = "upstream"
)

// Validate rejects an unknown policy ("" is the default, PolicyStream).
func (p MetadataPolicy) Validate() error {
	switch p {
	case "", PolicyStream, PolicyUpstream:
		return nil
	}
	return fmt.Errorf("metadata policy %q is unknown (want %s or %s)", string(p), PolicyStream, PolicyUpstream)
}

// MaxTOC is the TOC size over which the policy refuses a layer (a *LimitError).
func (l Limits) MaxTOC() int64 {
	if l.MetadataPolicy == PolicyUpstream {
		return l.MaxTOCSize
	}
	return max(l.MaxTOCSize, l.MaxTarSplitSize)
}

// Streamed reports whether a TOC of these sizes is over MaxTOCSize, so that
// only PolicyStream pulls it (the lifecycle records that it did).
func (l Limits) Streamed(compressed, uncompressed uint64) bool {
	return l.MetadataPolicy != PolicyUpstream && max(compressed, uncompressed) > uint64(l.MaxTOCSize)
}

// The defaults, each with the reason it exists.
const (
	// DefaultMaxTOCSize is upstream's maxTocSize (150 MiB). Upstream holds
	// the TOC in memory, so a hostile annotation must not make it fetch or
	// inflate gigabytes; over it PolicyUpstream falls back to an ordinary
	// pull (rule "metadata-too-large").
	DefaultMaxTOCSize = 150 << 20
	// DefaultMaxTarSplitSize (4 GiB): upstream has no limit and reads the
	// tar-split whole into memory; we stream it (and under PolicyStream the
	// TOC) to a temp file, so this is a bound on disk use rather than
	// memory, large enough for millions of entries.
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
		MetadataPolicy:      PolicyStream,
		MaxTOCSize:          DefaultMaxTOCSize,
		MaxTarSplitSize:     DefaultMaxTarSplitSize,
		MaxRangesPerRequest: DefaultMaxRangesPerRequest,
		AutoMergeGap:        DefaultAutoMergeGap,
	}
}

// WithDefaults fills zero fields with the defaults and rejects negative ones.
func (l Limits) WithDefaults() (Limits, error) {
	d := DefaultLimits()
	if err := l.MetadataPolicy.Validate(); err != nil {
		return l, err
	}
	if l.MetadataPolicy == "" {
		l.MetadataPolicy = d.MetadataPolicy
	}
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
