package estargz

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"

	stargz "github.com/containerd/stargz-snapshotter/estargz"
)

// FooterSize is the length of the eStargz footer (FORMATS.md "estargz-footer"). The legacy
// 47-byte stargz footer is not supported, as upstream.
const FooterSize = stargz.FooterSize

// Footer errors, one per field (FORMATS.md "estargz-footer"). Upstream only parses the hex
// digits; the other fields are identical in every eStargz blob, so checking
// them costs nothing and catches a blob that is not eStargz at all before
// its "offset" is trusted.
var (
	ErrFooterLength         = errors.New("footer is not 51 bytes")
	ErrFooterGzipHeader     = errors.New("footer does not start with a gzip header (1f 8b, deflate, only FEXTRA set)")
	ErrFooterExtraLength    = errors.New("footer gzip extra field length is not 26")
	ErrFooterSubfieldID     = errors.New(`footer extra subfield ID is not "SG"`)
	ErrFooterSubfieldLength = errors.New("footer extra subfield length is not 22")
	ErrFooterOffset         = errors.New("footer TOC offset is not 16 hex digits fitting int64")
	ErrFooterMagic          = errors.New(`footer lacks the "STARGZ" magic`)
	ErrFooterBody           = errors.New("footer is not an empty gzip member (stored empty block, zero CRC and size)")
)

// FooterError reports which footer bytes were wrong.
type FooterError struct {
	Offset int    // first byte of the field within the footer
	Got    []byte // the field's bytes
	Err    error  // one of the ErrFooter* sentinels
}

func (e *FooterError) Error() string {
	return fmt.Sprintf("eStargz footer bytes %d..%d are %q: %v", e.Offset, e.Offset+len(e.Got)-1, e.Got, e.Err)
}

func (e *FooterError) Unwrap() error { return e.Err }

// footerField is a fixed part of the footer.
type footerField struct {
	at   int
	want []byte
	err  error
}

var footerFields = []footerField{
	// MTIME, XFL and OS (bytes 4..9) are not checked: they do not affect the
	// layout and another writer could set them differently.
	{0, []byte{0x1f, 0x8b, 0x08, 0x04}, ErrFooterGzipHeader},
	{10, []byte{26, 0}, ErrFooterExtraLength},
	{12, []byte("SG"), ErrFooterSubfieldID},
	{14, []byte{22, 0}, ErrFooterSubfieldLength},
	{32, []byte("STARGZ"), ErrFooterMagic},
	{38, []byte{0x01, 0x00, 0x00, 0xff, 0xff}, ErrFooterBody},
	{43, make([]byte, 8), ErrFooterBody},
}

const (
	footerOffsetAt  = 16
	footerOffsetLen = 16
)

// ParseFooter returns the TOC offset recorded in the 51-byte eStargz footer
// b, checking every field.
func ParseFooter(b []byte) (tocOffset int64, err error) {
	if len(b) != FooterSize {
		return 0, &FooterError{Got: b[:min(len(b), FooterSize)], Err: fmt.Errorf("%w (%d bytes)", ErrFooterLength, len(b))}
	}
	for _, f := range footerFields {
		got := b[f.at : f.at+len(f.want)]
		if !bytes.Equal(got, f.want) {
			return 0, &FooterError{Offset: f.at, Got: bytes.Clone(got), Err: f.err}
		}
	}
	digits := b[footerOffsetAt : footerOffsetAt+footerOffsetLen]
	bad := func() error {
		return &FooterError{Offset: footerOffsetAt, Got: bytes.Clone(digits), Err: ErrFooterOffset}
	}
	// With an explicit base, ParseUint accepts hex digits only (no sign,
	// prefix or underscores); unlike upstream's ParseInt, no negative value.
	v, err := strconv.ParseUint(string(digits), 16, 64)
	if err != nil || v > math.MaxInt64 {
		return 0, bad()
	}
	return int64(v), nil
}
