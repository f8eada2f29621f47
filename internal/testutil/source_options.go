package testutil

import "fmt"

// SourceOption scripts the behaviour of a Source. Options apply to every
// call unless wrapped in OnCall or FromCall.
type SourceOption func(*behaviour)

// behaviour is the resolved script for one GetBlobAt call.
type behaviour struct {
	refuse       bool
	maxRanges    int // 0 = unlimited
	failErr      error
	errAfter     int // -1 = never
	errAfterErr  error
	streamLimit  int // -1 = unlimited
	extraStreams int
	truncIdx     int // -2 = none, -1 = all
	truncCut     int64
	corruptIdx   int // -2 = none, -1 = all
	lie          []byte
	multiRange   MultiRangeMode
	stallIdx     int // -2 = none, -1 = all
	stallForever bool
	neverClose   bool
	stallCall    bool
	release      chan struct{} // the source's, set per call

	scoped []scopedOption
}

type scopedOption struct {
	match func(call int) bool
	opts  []SourceOption
}

func defaultBehaviour() behaviour {
	return behaviour{errAfter: -1, streamLimit: -1, truncIdx: -2, corruptIdx: -2, stallIdx: -2}
}

// forCall resolves the options for the given (1-based) call number.
func resolveBehaviour(opts []SourceOption, call int) behaviour {
	b := defaultBehaviour()
	apply(&b, opts, call)
	return b
}

func apply(b *behaviour, opts []SourceOption, call int) {
	for _, o := range opts {
		b.scoped = nil
		o(b)
		for _, s := range b.scoped {
			if s.match(call) {
				apply(b, s.opts, call)
			}
		}
	}
	b.scoped = nil
}

// OnCall applies opts only to the n-th GetBlobAt call (1-based).
func OnCall(n int, opts ...SourceOption) SourceOption {
	return func(b *behaviour) {
		b.scoped = append(b.scoped, scopedOption{func(c int) bool { return c == n }, opts})
	}
}

// FromCall applies opts to the n-th call and every later one.
func FromCall(n int, opts ...SourceOption) SourceOption {
	return func(b *behaviour) {
		b.scoped = append(b.scoped, scopedOption{func(c int) bool { return c >= n }, opts})
	}
}

// Refuse makes calls fail immediately with chunked.ErrBadRequest{} (what
// c/image reports for HTTP 400).
func Refuse() SourceOption { return func(b *behaviour) { b.refuse = true } }

// RefuseCall refuses the n-th call (1-based) with chunked.ErrBadRequest{}.
func RefuseCall(n int) SourceOption { return OnCall(n, Refuse()) }

// RefuseMoreThan refuses calls with more than k ranges with ErrBadRequest{}.
func RefuseMoreThan(k int) SourceOption { return func(b *behaviour) { b.maxRanges = k } }

// FailWith makes calls return err as the immediate error.
func FailWith(err error) SourceOption { return func(b *behaviour) { b.failErr = err } }

// ErrorAfter sends err on the error channel after k streams were sent and
// then stops sending streams.
func ErrorAfter(k int, err error) SourceOption {
	return func(b *behaviour) { b.errAfter, b.errAfterErr = k, err }
}

// StreamLimit sends at most n streams per call, whatever was asked for,
// and no error: the consumer sees fewer streams than ranges.
func StreamLimit(n int) SourceOption { return func(b *behaviour) { b.streamLimit = n } }

// ExtraStreams sends n surplus streams after the requested ones.
func ExtraStreams(n int) SourceOption { return func(b *behaviour) { b.extraStreams = n } }

// TruncateStreams cuts cut bytes off the end of the stream for range index i
// of each call (i = -1: every stream).
func TruncateStreams(i int, cut int64) SourceOption {
	return func(b *behaviour) { b.truncIdx, b.truncCut = i, cut }
}

// CorruptStreams flips the bits of one byte in the middle of the stream for
// range index i of each call (i = -1: every stream).
func CorruptStreams(i int) SourceOption { return func(b *behaviour) { b.corruptIdx = i } }

// Lying serves ranges from other instead of the real blob; requests are
// validated against other's size.
func Lying(other []byte) SourceOption { return func(b *behaviour) { b.lie = other } }

// MultiRange sets how calls with more than one range are answered, modelling
// registry behaviours the HTTP source has to cope with.
func MultiRange(m MultiRangeMode) SourceOption { return func(b *behaviour) { b.multiRange = m } }

// Stall makes the stream for range index i of each call (i = -1: every
// stream) deliver nothing: its Read blocks until the stream is closed (a
// stalled HTTP body) or, with forever, until Source.Release (a Read that
// ignores Close).
func Stall(i int, forever bool) SourceOption {
	return func(b *behaviour) { b.stallIdx, b.stallForever = i, forever }
}

// NeverClose makes the source keep both channels open after its last
// stream (combine with StreamLimit(0) for a source that sends nothing),
// until Source.Release.
func NeverClose() SourceOption { return func(b *behaviour) { b.neverClose = true } }

// StallCall makes GetBlobAt itself block until Source.Release (a registry
// that accepts the request and never answers).
func StallCall() SourceOption { return func(b *behaviour) { b.stallCall = true } }

// MultiRangeMode is a registry's answer to a multi-range request.
type MultiRangeMode int

const (
	// MultiRangeOK: 206 multipart/byteranges, one part per range.
	MultiRangeOK MultiRangeMode = iota
	// MultiRangeBadRequest: 400, mapped by c/image to chunked.ErrBadRequest{}.
	MultiRangeBadRequest
	// MultiRangeNotImplemented: 501, an immediate *StatusError.
	MultiRangeNotImplemented
	// MultiRangeNotSatisfiable: 416, an immediate *StatusError.
	MultiRangeNotSatisfiable
	// MultiRangeWholeBlob: 200 with the whole blob; the streams are still
	// correct (c/image slices the body) but the whole blob goes over the wire.
	MultiRangeWholeBlob
)

// StatusError is the immediate error for an HTTP status the client does not
// map to anything more specific.
type StatusError struct{ Code int }

func (e *StatusError) Error() string {
	return fmt.Sprintf("fetching partial blob: unexpected HTTP status %d", e.Code)
}
