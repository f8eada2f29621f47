package differ

import (
	"testing"

	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/stretchr/testify/assert"
)

func checkEdge[F, T phase](t *testing.T, e edge[F, T]) {
	t.Helper()
	var from F
	var to T
	got, ok := states.Next(from.state(), e.event)
	assert.True(t, ok, "%s is not legal in %s", e.event, from.state())
	assert.Equal(t, to.state(), got, "%s from %s", e.event, from.state())
}

// Every typed transition is a row of the edge table, so the phase installed
// is always the state the machine reaches.
func TestTypedEdgesMatchTheTable(t *testing.T) {
	checkEdge(t, edgeLoad)
	checkEdge(t, edgeConvert)
	checkEdge(t, edgePrepare)
	checkEdge(t, edgeApply)
	// The untyped exits: decline and fail leave any phase they accept.
	for _, s := range []phase{uninitialized{}, metadataLoaded{}} {
		for ev, to := range map[states.Event]states.State{states.FallBack: states.Fallback, states.PlanConvert: states.ConvertPending, states.Fail: states.Failed} {
			got, ok := states.Next(s.state(), ev)
			assert.True(t, ok && got == to, "%s from %s", ev, s.state())
		}
	}
	// convert_images whose whole-blob request is refused falls back.
	got, ok := states.Next(convertPending{}.state(), states.FallBack)
	assert.True(t, ok && got == states.Fallback, "fall-back from convert-pending")
	for _, s := range []phase{convertPending{}, ready{}} {
		got, ok := states.Next(s.state(), states.Fail)
		assert.True(t, ok && got == states.Failed, "fail from %s", s.state())
	}
}

// A phase shows what it holds and what the phases before it learned.
func TestPhasesCarryTheirFindings(t *testing.T) {
	meta := &MetadataSummary{Entries: 3}
	r := states.Because(states.CodeNoTarSplit, "x")
	fb := fallback{reason: r, seen: findings{meta: meta}}
	assert.Equal(t, meta, fb.findings().meta)
	assert.Equal(t, &r, fb.findings().reason)
	c := closed{last: fb.findings()}
	assert.Equal(t, fb.findings(), c.findings())
	a := applied{seen: findings{meta: meta}, summary: ApplySummary{Requests: 2}}
	assert.Equal(t, 2, a.findings().apply.Requests)
	assert.Nil(t, a.findings().reason)
}
