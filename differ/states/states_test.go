package states

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// documented is the lifecycle as the docs describe it, written out by hand so
// that a change to Edges must be a deliberate change here too.
var documented = map[State]map[Event]State{
	Uninitialized:  {Load: MetadataLoaded, FallBack: Fallback, PlanConvert: ConvertPending, Fail: Failed, Close: Closed},
	MetadataLoaded: {FallBack: Fallback, PlanConvert: ConvertPending, Prepare: Ready, Fail: Failed, Close: Closed},
	ConvertPending: {Convert: MetadataLoaded, FallBack: Fallback, Fail: Failed, Close: Closed},
	Ready:          {Apply: Applied, Fail: Failed, Close: Closed},
	Applied:        {Close: Closed},
	Fallback:       {Close: Closed},
	Failed:         {Close: Closed},
	Closed:         {},
}

// pathTo fires events from Uninitialized to reach s.
var pathTo = map[State][]Event{
	Uninitialized:  nil,
	MetadataLoaded: {Load},
	ConvertPending: {PlanConvert},
	Ready:          {Load, Prepare},
	Applied:        {Load, Prepare, Apply},
	Fallback:       {FallBack},
	Failed:         {Fail},
	Closed:         {Close},
}

func machineIn(t *testing.T, s State) *Machine {
	t.Helper()
	m := New()
	for _, ev := range pathTo[s] {
		_, err := m.Fire(ev, Reason{}, nil)
		require.NoError(t, err)
	}
	require.Equal(t, s, m.Current())
	return m
}

func TestEveryStateEventPair(t *testing.T) {
	for _, s := range AllStates() {
		for _, ev := range AllEvents() {
			t.Run(s.String()+"/"+ev.String(), func(t *testing.T) {
				m := machineIn(t, s)
				before := len(m.History())
				want, legal := documented[s][ev]
				tr, err := m.Fire(ev, Because(CodeError, "test"), map[string]int64{"n": 1})
				if !legal {
					var illegal *IllegalEventError
					require.ErrorAs(t, err, &illegal)
					assert.Equal(t, s, illegal.State)
					assert.Equal(t, ev, illegal.Event)
					assert.Contains(t, err.Error(), s.String())
					assert.Contains(t, err.Error(), ev.String())
					assert.Equal(t, s, m.Current(), "state must not change")
					assert.Len(t, m.History(), before, "nothing recorded")
					assert.False(t, m.Can(ev))
					return
				}
				require.NoError(t, err)
				assert.Equal(t, want, m.Current())
				assert.Equal(t, Transition{From: s, To: want, Event: ev, Reason: Because(CodeError, "test"), At: tr.At, Sizes: map[string]int64{"n": 1}}, tr)
				h := m.History()
				require.Len(t, h, before+1)
				assert.Equal(t, tr, h[len(h)-1])
			})
		}
	}
}

func TestEdgesMatchDocumentedTable(t *testing.T) {
	got := map[State]map[Event]State{}
	for _, s := range AllStates() {
		got[s] = map[Event]State{}
	}
	for _, e := range Edges() {
		_, dup := got[e.From][e.Event]
		require.False(t, dup, "two edges for %s/%s", e.From, e.Event)
		got[e.From][e.Event] = e.To
	}
	assert.Equal(t, documented, got)
}

func TestNamesAreUniqueAndKnown(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range AllStates() {
		require.NotContains(t, s.String(), "state(")
		require.False(t, seen[s.String()])
		seen[s.String()] = true
	}
	for _, e := range AllEvents() {
		require.NotContains(t, e.String(), "event(")
		require.False(t, seen[e.String()], "event name %q collides", e)
		seen[e.String()] = true
	}
	assert.Equal(t, "state(99)", State(99).String())
	assert.Equal(t, "event(-1)", Event(-1).String())
	for c := CodeNone + 1; c < numCodes; c++ {
		require.NotContains(t, c.String(), "code(")
		require.NotEmpty(t, c.String())
	}
}

func TestHistoryIsACopy(t *testing.T) {
	m := New(WithClock(func() time.Time { return time.Unix(10, 0) }))
	_, err := m.Fire(Load, Reason{Detail: "toc"}, map[string]int64{"entries": 3})
	require.NoError(t, err)
	h := m.History()
	h[0].Sizes["entries"] = 99
	h[0].To = Failed
	again := m.History()
	assert.Equal(t, int64(3), again[0].Sizes["entries"])
	assert.Equal(t, MetadataLoaded, again[0].To)
	assert.Equal(t, time.Unix(10, 0).UTC(), again[0].At)
	assert.Equal(t, "toc", m.LastReason().Detail)
}

// Concurrent events must be serialised (looplab/fsm alone races); exactly one
// of many goroutines racing to leave Uninitialized by Load wins.
func TestConcurrentFireIsSerialised(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.Fire(Load, Reason{}, nil); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
			_ = m.Current()
			_ = m.History()
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, wins)
	assert.Len(t, m.History(), 1)
}

func TestDecide(t *testing.T) {
	tests := []struct {
		code    Code
		convert bool
		want    Event
	}{
		{CodePartialDisabled, false, FallBack},
		{CodePartialDisabled, true, FallBack},
		{CodeNoDifferDriver, false, FallBack},
		{CodeNoDifferDriver, true, Fail},
		{CodeMetadataTooLarge, false, FallBack},
		{CodeMetadataTooLarge, true, Fail},
		{CodeRangesRefused, false, FallBack},
		{CodeRangesRefused, true, PlanConvert},
		{CodeNoTarSplit, false, FallBack},
		{CodeNoTarSplit, true, PlanConvert},
		{CodeEStargzUnverifiable, false, FallBack},
		{CodeEStargzUnverifiable, true, PlanConvert},
		{CodeNoTOC, false, FallBack},
		{CodeNoTOC, true, PlanConvert},
	}
	for _, tt := range tests {
		r := Because(tt.code, "x")
		d := Decide(r, tt.convert)
		assert.Equal(t, tt.want, d.Event, "%s convert=%v", tt.code, tt.convert)
		assert.Equal(t, r, d.Reason)
	}
}

func TestDocsDiagramMatchesCode(t *testing.T) {
	doc, err := os.ReadFile("../../docs/ARCHITECTURE.md")
	require.NoError(t, err)
	s := string(doc)
	begin := strings.Index(s, DiagramBegin)
	end := strings.Index(s, DiagramEnd)
	require.True(t, begin >= 0 && end > begin, "diagram markers missing from docs/ARCHITECTURE.md")
	got := s[begin+len(DiagramBegin)+1 : end]
	require.Equal(t, DiagramBlock(), got, "docs/ARCHITECTURE.md is stale: run `go generate ./differ/states`")
}

func TestMermaidCoversEveryNonCloseEdge(t *testing.T) {
	d := Mermaid()
	for _, e := range Edges() {
		if e.Event == Close {
			continue
		}
		assert.Contains(t, d, mermaidID(e.From)+" --> "+mermaidID(e.To)+": "+e.Event.String())
	}
}

func TestIllegalEventErrorIsTyped(t *testing.T) {
	m := machineIn(t, Closed)
	_, err := m.Fire(Load, Reason{}, nil)
	var illegal *IllegalEventError
	assert.True(t, errors.As(err, &illegal))
}
