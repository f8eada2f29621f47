// Package zstdchunked reads the metadata of zstd:chunked layers: the TOC and
// the tar-split located by the layer annotations (docs/FORMATS.md, "zstd:chunked" and "tar-split").
package zstdchunked

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Annotation keys (FORMATS.md "zstd-annotations").
const (
	AnnotationTOCDigest        = "io.github.containers.zstd-chunked.manifest-checksum"
	AnnotationTOCPosition      = "io.github.containers.zstd-chunked.manifest-position"
	AnnotationTarSplitPosition = "io.github.containers.zstd-chunked.tarsplit-position"
)

// manifestTypeCRFS is the only TOC type there is.
const manifestTypeCRFS = 1

// ErrNotZstdChunked is returned by ParseAnnotations when the TOC digest
// annotation is absent: the layer is not zstd:chunked.
var ErrNotZstdChunked = errors.New("zstd:chunked TOC digest annotation not present")

// AnnotationError names an annotation whose value is unusable.
type AnnotationError struct {
	Key, Value string
	Err        error
}

func (e *AnnotationError) Error() string {
	return fmt.Sprintf("zstd:chunked annotation %s=%q: %v", e.Key, e.Value, e.Err)
}

func (e *AnnotationError) Unwrap() error { return e.Err }

// Position locates a skippable frame's user data in the blob.
type Position struct {
	Offset             uint64 // of the data, past the 8-byte frame header
	Length             uint64 // compressed
	UncompressedLength uint64
}

// Annotations is the parsed form of the layer annotations.
type Annotations struct {
	TOCDigest digest.Digest
	TOC       Position
	// TarSplit.Offset == 0 means no tar-split position (like upstream).
	TarSplit Position
}

// HasTarSplitPosition reports whether a tar-split position was annotated.
func (a Annotations) HasTarSplitPosition() bool { return a.TarSplit.Offset != 0 }

// ParseAnnotations extracts the TOC digest and the TOC and tar-split
// positions. It returns ErrNotZstdChunked if the TOC digest is absent.
func ParseAnnotations(ann map[string]string) (Annotations, error) {
	var a Annotations
	d, ok := ann[AnnotationTOCDigest]
	if !ok {
		return a, ErrNotZstdChunked
	}
	dg, err := digest.Parse(d)
	if err != nil {
		return a, &AnnotationError{Key: AnnotationTOCDigest, Value: d, Err: err}
	}
	a.TOCDigest = dg

	v, ok := ann[AnnotationTOCPosition]
	if !ok {
		return a, &AnnotationError{Key: AnnotationTOCPosition, Err: errors.New("missing")}
	}
	n, err := parseFields(v, 4)
	if err != nil {
		return a, &AnnotationError{Key: AnnotationTOCPosition, Value: v, Err: err}
	}
	if n[3] != manifestTypeCRFS {
		return a, &AnnotationError{Key: AnnotationTOCPosition, Value: v, Err: fmt.Errorf("manifest type %d, want %d", n[3], manifestTypeCRFS)}
	}
	a.TOC = Position{Offset: n[0], Length: n[1], UncompressedLength: n[2]}

	if v, ok := ann[AnnotationTarSplitPosition]; ok {
		n, err := parseFields(v, 3)
		if err != nil {
			return a, &AnnotationError{Key: AnnotationTarSplitPosition, Value: v, Err: err}
		}
		a.TarSplit = Position{Offset: n[0], Length: n[1], UncompressedLength: n[2]}
	}
	return a, nil
}

// parseFields parses exactly want colon-separated unsigned decimal integers.
// Upstream uses fmt.Sscanf("%d:%d:…"), which also accepts leading spaces, a
// '+' sign and trailing garbage ("1:2:3:1xyz"). No writer produces those, so
// rejecting them is a harmless deviation that keeps odd values out.
func parseFields(s string, want int) ([]uint64, error) {
	parts := strings.Split(s, ":")
	if len(parts) != want {
		return nil, fmt.Errorf("want %d colon-separated fields, got %d", want, len(parts))
	}
	out := make([]uint64, want)
	for i, p := range parts {
		if p == "" || p[0] < '0' || p[0] > '9' {
			return nil, fmt.Errorf("field %d (%q) is not an unsigned decimal integer", i+1, p)
		}
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("field %d: %w", i+1, err)
		}
		out[i] = v
	}
	return out, nil
}
