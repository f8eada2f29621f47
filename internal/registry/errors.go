package registry

import (
	"errors"
	"fmt"
)

// ErrRangesUnusable marks a blob whose ranges the registry will not serve
// usably (refused, answered with the whole blob or with other ranges). The
// error GetBlobAt returns for it also matches chunked.ErrBadRequest, so the
// differ falls back; a caller that gets a hard error from the differ can ask
// Blob.Refused whether an ordinary download is the answer.
var ErrRangesUnusable = errors.New("registry does not serve usable range requests")

// ErrBadResponse: the registry answered with something that is not HTTP as
// the request asked for (malformed Content-Range, multipart without
// boundary, parts outside the request, wrong blob size).
var ErrBadResponse = errors.New("malformed range response")

// StatusError is an HTTP status the client could not make use of.
type StatusError struct {
	Code   int
	Status string
	URL    string
	Range  string // the Range header sent, "" for none
}

func (e *StatusError) Error() string {
	if e.Range != "" {
		return fmt.Sprintf("GET %s (Range: %s): %s", e.URL, e.Range, e.Status)
	}
	return fmt.Sprintf("GET %s: %s", e.URL, e.Status)
}

// Reason says why a Blob stopped using ranges; see Blob.Refused.
type Reason struct {
	Status int    `json:"status,omitempty"`
	Detail string `json:"detail"`
}

func (r Reason) String() string {
	if r.Status != 0 {
		return fmt.Sprintf("HTTP %d: %s", r.Status, r.Detail)
	}
	return r.Detail
}
