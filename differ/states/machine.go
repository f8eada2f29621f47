package states

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/looplab/fsm"
)

// Transition is one recorded step of the lifecycle.
type Transition struct {
	From   State     `json:"from"`
	To     State     `json:"to"`
	Event  Event     `json:"event"`
	Reason Reason    `json:"reason"`
	At     time.Time `json:"at"`
	// Sizes are figures worth keeping with the step (bytes fetched, entries
	// loaded, …); nil when there are none.
	Sizes map[string]int64 `json:"sizes,omitempty"`
}

// IllegalEventError is returned when an event is fired in a state that has no
// edge for it. The machine's state is unchanged.
type IllegalEventError struct {
	State State
	Event Event
}

func (e *IllegalEventError) Error() string {
	return fmt.Sprintf("differ lifecycle: event %q is not allowed in state %q", e.Event, e.State)
}

// Machine is the lifecycle of one differ. It is safe for concurrent use: every
// event is serialised by the machine's own mutex, because looplab/fsm is not
// safe for concurrent Event calls.
type Machine struct {
	mu      sync.Mutex
	fsm     *fsm.FSM
	history []Transition
	now     func() time.Time
}

// Option configures a Machine.
type Option func(*Machine)

// WithClock replaces time.Now, for deterministic tests and dumps.
func WithClock(now func() time.Time) Option { return func(m *Machine) { m.now = now } }

// New returns a machine in Uninitialized.
func New(opts ...Option) *Machine {
	m := &Machine{fsm: newFSM(), now: time.Now}
	for _, o := range opts {
		o(m)
	}
	return m
}

// newFSM builds the looplab/fsm definition from Edges. No callbacks: the
// machine only records, it never acts.
func newFSM() *fsm.FSM {
	byEvent := map[Event][]string{}
	dst := map[Event]map[State]State{}
	for _, e := range Edges() {
		byEvent[e.Event] = append(byEvent[e.Event], e.From.String())
		if dst[e.Event] == nil {
			dst[e.Event] = map[State]State{}
		}
		dst[e.Event][e.From] = e.To
	}
	// looplab/fsm takes one destination per event description, so events
	// whose sources lead to different destinations get one description each.
	var descs []fsm.EventDesc
	for _, ev := range AllEvents() {
		group := map[State][]string{}
		for _, src := range byEvent[ev] {
			to := dst[ev][parseState(src)]
			group[to] = append(group[to], src)
		}
		for _, to := range AllStates() {
			if srcs, ok := group[to]; ok {
				descs = append(descs, fsm.EventDesc{Name: ev.String(), Src: srcs, Dst: to.String()})
			}
		}
	}
	return fsm.NewFSM(Uninitialized.String(), descs, nil)
}

func parseState(name string) State {
	for _, s := range AllStates() {
		if s.String() == name {
			return s
		}
	}
	return -1
}

// Current returns the current state.
func (m *Machine) Current() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return parseState(m.fsm.Current())
}

// Can reports whether ev is legal now.
func (m *Machine) Can(ev Event) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fsm.Can(ev.String())
}

// Fire moves the machine along ev, recording the reason and sizes. An illegal
// event returns *IllegalEventError and changes nothing.
func (m *Machine) Fire(ev Event, reason Reason, sizes map[string]int64) (Transition, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	from := parseState(m.fsm.Current())
	to, ok := Next(from, ev)
	if !ok {
		return Transition{}, &IllegalEventError{State: from, Event: ev}
	}
	// A context that cannot be cancelled: a cancelled one wedges looplab/fsm
	// "in transition" for good (looplab/fsm#115).
	if err := m.fsm.Event(context.Background(), ev.String()); err != nil {
		var noTransition fsm.NoTransitionError
		if !errors.As(err, &noTransition) || noTransition.Err != nil {
			return Transition{}, fmt.Errorf("differ lifecycle: %s in %s: %w", ev, from, err)
		}
	}
	if got := parseState(m.fsm.Current()); got != to {
		// Edges and the fsm disagree: a programming error, never input.
		panic(fmt.Sprintf("differ lifecycle: %s from %s reached %s, table says %s", ev, from, got, to))
	}
	t := Transition{From: from, To: to, Event: ev, Reason: reason, At: m.now().UTC(), Sizes: copySizes(sizes)}
	m.history = append(m.history, t)
	return t, nil
}

// History returns a copy of every transition so far, oldest first.
func (m *Machine) History() []Transition {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Transition, len(m.history))
	for i, t := range m.history {
		t.Sizes = copySizes(t.Sizes)
		out[i] = t
	}
	return out
}

// LastReason returns the reason of the most recent transition, or the zero
// Reason.
func (m *Machine) LastReason() Reason {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.history) == 0 {
		return Reason{}
	}
	return m.history[len(m.history)-1].Reason
}

func copySizes(in map[string]int64) map[string]int64 {
	if in == nil {
		return nil
	}
	out := make(map[string]int64, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}
