package dcontext

import (
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// Annotation keys that select a layer format.
const (
	AnnotationZstdChunkedTOCDigest = "io.github.containers.zstd-chunked.manifest-checksum"
	AnnotationEStargzTOCDigest     = "containerd.io/snapshot/stargz/toc.digest"
)

// Format is the layer's chunked format, as announced by its annotations.
type Format int

const (
	// FormatNone: no TOC annotation; the layer can only be pulled whole.
	FormatNone Format = iota
	// FormatZstdChunked: zstd:chunked (containers/storage).
	FormatZstdChunked
	// FormatEStargz: eStargz (stargz-snapshotter).
	FormatEStargz
)

func (f Format) String() string {
	switch f {
	case FormatNone:
		return "none"
	case FormatZstdChunked:
		return "zstd:chunked"
	case FormatEStargz:
		return "estargz"
	}
	return fmt.Sprintf("format(%d)", int(f))
}

// MarshalText makes formats readable in the JSON dump.
func (f Format) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// ErrAmbiguousFormat: the layer announces both formats (rule "ambiguous-format" in docs/BEHAVIOUR.md).
var ErrAmbiguousFormat = errors.New("layer has both a zstd:chunked and an eStargz TOC digest annotation")

// DetectFormat selects the format from the annotations and parses its TOC
// digest (rules "ambiguous-format" and "bad-toc-digest" in docs/BEHAVIOUR.md).
func DetectFormat(annotations map[string]string) (Format, digest.Digest, error) {
	zv, hasZstd := annotations[AnnotationZstdChunkedTOCDigest]
	ev, hasEStargz := annotations[AnnotationEStargzTOCDigest]
	var (
		f   Format
		key string
		v   string
	)
	switch {
	case hasZstd && hasEStargz:
		return FormatNone, "", ErrAmbiguousFormat
	case hasZstd:
		f, key, v = FormatZstdChunked, AnnotationZstdChunkedTOCDigest, zv
	case hasEStargz:
		f, key, v = FormatEStargz, AnnotationEStargzTOCDigest, ev
	default:
		return FormatNone, "", nil
	}
	d, err := digest.Parse(v)
	if err != nil {
		return FormatNone, "", fmt.Errorf("annotation %s=%q is not a valid digest: %w", key, v, err)
	}
	return f, d, nil
}
