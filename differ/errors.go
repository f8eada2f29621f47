package differ

import (
	"errors"

	"github.com/chunkdiff/chunkdiff/differ/states"
	"go.podman.io/storage/pkg/chunked"
)

// FallbackError says why a layer must be pulled in full. It is always
// returned wrapped in chunked.ErrFallbackToOrdinaryLayerDownload, so callers
// written for upstream's differ (containers/image) keep their fallback logic;
// callers that care why use errors.As on *FallbackError.
type FallbackError struct {
	Reason states.Reason
	// Err is the underlying error, if any (e.g. the source's ErrBadRequest).
	Err error
}

func (e *FallbackError) Error() string {
	msg := "partial pull not possible: " + e.Reason.String()
	if e.Err != nil && e.Reason.Detail == "" {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *FallbackError) Unwrap() error { return e.Err }

// CanConvert reports whether convert_images could have pulled this layer
// (upstream's private errFallbackCanConvert).
func (e *FallbackError) CanConvert() bool { return e.Reason.Code.CanConvert() }

func fallbackError(r states.Reason, cause error) error {
	return chunked.ErrFallbackToOrdinaryLayerDownload{Err: &FallbackError{Reason: r, Err: cause}}
}

// ErrUsed is returned by a second ApplyDiff: a differ is single-use.
var ErrUsed = errors.New("chunkdiff: differ already used")

// IsFallback reports whether err asks for an ordinary pull.
func IsFallback(err error) bool {
	var f chunked.ErrFallbackToOrdinaryLayerDownload
	return errors.As(err, &f)
}
