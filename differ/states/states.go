// Package states is the differ's lifecycle: the states, the events that move
// between them, and the record of every transition. It does no I/O and knows
// nothing about layer formats; the differ package decides *when* to fire an
// event and carries the data that is valid in each state.
//
// The whole lifecycle, in one table (see Edges):
//
//	uninitialized ──load──────────▶ metadata-loaded ──prepare──▶ ready ──apply──▶ applied
//	   │  │  │                        │   ▲    │
//	   │  │  └──plan-convert──▶ convert-pending ──convert──┘    │
//	   │  └─────fall-back─────▶ fallback ◀──fall-back───────────┘
//	   └─────────fail──────────▶ failed  ◀──fail── (any non-terminal state)
//	any state ──close──▶ closed
package states

import "fmt"

// State is one phase of a differ's life.
type State int

const (
	// Uninitialized: the context is built, nothing has been read from the source.
	Uninitialized State = iota
	// MetadataLoaded: the TOC (and tar-split, if any) are fetched and verified.
	MetadataLoaded
	// ConvertPending: the layer cannot be pulled partially, but convert_images
	// allows downloading it whole; conversion runs once ApplyDiff knows the
	// destination.
	ConvertPending
	// Ready: the apply plan (what to reuse, what to fetch) is computed.
	Ready
	// Applied: the layer is materialised and the output handed to the store.
	Applied
	// Fallback: the caller must do an ordinary (full) pull. Terminal.
	Fallback
	// Failed: a hard error; neither a partial nor an ordinary pull through this
	// differ makes sense. Terminal.
	Failed
	// Closed: resources released. Terminal.
	Closed
	numStates
)

var stateNames = [...]string{
	Uninitialized:  "uninitialized",
	MetadataLoaded: "metadata-loaded",
	ConvertPending: "convert-pending",
	Ready:          "ready",
	Applied:        "applied",
	Fallback:       "fallback",
	Failed:         "failed",
	Closed:         "closed",
}

func (s State) String() string {
	if s >= 0 && s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// MarshalText makes states readable in the JSON dump.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Terminal reports whether no further work can happen in s (only close).
func (s State) Terminal() bool {
	return s == Fallback || s == Failed || s == Closed || s == Applied
}

// AllStates lists every state in declaration order.
func AllStates() []State {
	out := make([]State, 0, numStates)
	for s := Uninitialized; s < numStates; s++ {
		out = append(out, s)
	}
	return out
}

// Event names a transition.
type Event int

const (
	// Load: TOC and tar-split fetched and verified.
	Load Event = iota
	// FallBack: give the layer back to the caller for an ordinary pull.
	FallBack
	// PlanConvert: an ordinary pull is needed, and convert_images asks for
	// the layer to be converted locally instead of falling back.
	PlanConvert
	// Convert: the whole blob was downloaded and converted; its local TOC is
	// loaded.
	Convert
	// Prepare: the apply plan is computed.
	Prepare
	// Apply: every entry is materialised and verified.
	Apply
	// Fail: a hard error.
	Fail
	// Close: release everything.
	Close
	numEvents
)

var eventNames = [...]string{
	Load:        "load",
	FallBack:    "fall-back",
	PlanConvert: "plan-convert",
	Convert:     "convert",
	Prepare:     "prepare",
	Apply:       "apply",
	Fail:        "fail",
	Close:       "close",
}

func (e Event) String() string {
	if e >= 0 && e < numEvents {
		return eventNames[e]
	}
	return fmt.Sprintf("event(%d)", int(e))
}

// MarshalText makes events readable in the JSON dump.
func (e Event) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// AllEvents lists every event in declaration order.
func AllEvents() []Event {
	out := make([]Event, 0, numEvents)
	for e := Load; e < numEvents; e++ {
		out = append(out, e)
	}
	return out
}

// Edge is one legal transition.
type Edge struct {
	Event Event
	From  State
	To    State
}

// nonTerminal are the states in which work can still go wrong.
var nonTerminal = []State{Uninitialized, MetadataLoaded, ConvertPending, Ready}

// Edges is the whole lifecycle. It is the only place transitions are defined:
// the fsm, the docs' diagram and the tests are all built from it.
func Edges() []Edge {
	edges := []Edge{
		{Load, Uninitialized, MetadataLoaded},
		{FallBack, Uninitialized, Fallback},
		{FallBack, MetadataLoaded, Fallback}, // e.g. TOC without tar-split
		{PlanConvert, Uninitialized, ConvertPending},
		{PlanConvert, MetadataLoaded, ConvertPending},
		{Convert, ConvertPending, MetadataLoaded},
		{FallBack, ConvertPending, Fallback}, // the whole-blob request was refused
		{Prepare, MetadataLoaded, Ready},
		{Apply, Ready, Applied},
	}
	for _, s := range nonTerminal {
		edges = append(edges, Edge{Fail, s, Failed})
	}
	for _, s := range AllStates() {
		if s != Closed {
			edges = append(edges, Edge{Close, s, Closed})
		}
	}
	return edges
}

// Next returns the state that ev leads to from s, and whether ev is legal in s.
func Next(s State, ev Event) (State, bool) {
	for _, e := range Edges() {
		if e.From == s && e.Event == ev {
			return e.To, true
		}
	}
	return s, false
}
