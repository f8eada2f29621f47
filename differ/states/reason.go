package states

import "fmt"

// Code classifies why the lifecycle left its happy path. Decisions are made on
// codes, never on error strings.
type Code int

const (
	// CodeNone: an ordinary transition with nothing to explain.
	CodeNone Code = iota
	// CodePartialDisabled: enable_partial_images is not "true".
	CodePartialDisabled
	// CodeNoDifferDriver: the store's graph driver cannot apply a differ.
	CodeNoDifferDriver
	// CodeMetadataTooLarge: TOC or tar-split over the configured limit.
	CodeMetadataTooLarge
	// CodeRangesRefused: the source refused the range request (ErrBadRequest).
	CodeRangesRefused
	// CodeNoTarSplit: the TOC has no tar-split, so the layer's DiffID could
	// not be verified, and insecure_allow_unpredictable_image_contents is off.
	CodeNoTarSplit
	// CodeEStargzUnverifiable: eStargz carries no tar-split, same reason.
	CodeEStargzUnverifiable
	// CodeNoTOC: the layer has no TOC annotation at all.
	CodeNoTOC
	// CodeError: a hard error; the detail says which.
	CodeError
	// CodeComposefsStore: the overlay driver uses composefs, whose
	// ApplyStagedLayer needs upstream's internal TOC type in the output.
	CodeComposefsStore
	// CodeHostUnsupported: the host cannot apply a layer safely (a kernel
	// without openat2, an operating system other than Linux).
	CodeHostUnsupported
	// CodeBlobSizeUnknown: the blob's size is unknown (-1) and the format
	// locates its TOC from the blob's end (eStargz).
	CodeBlobSizeUnknown
	// CodeTempSpaceShort: the temp dir's file system cannot hold the
	// layer's metadata, found before spooling any of it.
	CodeTempSpaceShort
	numCodes
)

var codeNames = [...]string{
	CodeNone:                "",
	CodePartialDisabled:     "partial-images-disabled",
	CodeNoDifferDriver:      "driver-without-differ",
	CodeMetadataTooLarge:    "metadata-too-large",
	CodeRangesRefused:       "ranges-refused",
	CodeNoTarSplit:          "no-tar-split",
	CodeEStargzUnverifiable: "estargz-unverifiable",
	CodeNoTOC:               "no-toc",
	CodeError:               "error",
	CodeComposefsStore:      "composefs-store",
	CodeHostUnsupported:     "host-unsupported",
	CodeBlobSizeUnknown:     "blob-size-unknown",
	CodeTempSpaceShort:      "temp-space-short",
}

func (c Code) String() string {
	if c >= 0 && c < numCodes {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", int(c))
}

// MarshalText makes codes readable in the JSON dump.
func (c Code) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// CanConvert reports whether downloading the whole layer and converting it
// locally would succeed where a partial pull cannot: true for environmental
// reasons (no TOC, ranges refused, nothing to verify the layer with), false
// where the content itself is unacceptable or the store cannot take a differ.
func (c Code) CanConvert() bool {
	switch c {
	case CodeRangesRefused, CodeNoTarSplit, CodeEStargzUnverifiable, CodeNoTOC, CodeBlobSizeUnknown:
		return true
	}
	return false
}

// Environmental reports whether the reason is about this host or store, not
// the layer: an ordinary pull works there and a conversion would not, so it
// is a fallback even with convert_images.
func (c Code) Environmental() bool {
	switch c {
	case CodePartialDisabled, CodeComposefsStore, CodeHostUnsupported, CodeTempSpaceShort:
		return true
	}
	return false
}

// Reason is why a transition happened: a code to decide on and a detail for
// people.
type Reason struct {
	Code   Code   `json:"code,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Because builds a Reason.
func Because(c Code, format string, args ...any) Reason {
	return Reason{Code: c, Detail: fmt.Sprintf(format, args...)}
}

func (r Reason) String() string {
	switch {
	case r.Code == CodeNone:
		return r.Detail
	case r.Detail == "":
		return r.Code.String()
	}
	return r.Code.String() + ": " + r.Detail
}
