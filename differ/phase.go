package differ

import (
	"errors"

	"github.com/chunkdiff/chunkdiff/differ/states"
)

// phase is the data valid in one state: one type per state, so code that
// needs, say, the loaded TOC takes a metadataLoaded and cannot run earlier.
// A phase owns its resources (open metadata, content index, converted blob)
// until the transition that consumes it hands them on or releases them.
type phase interface {
	state() states.State
	// findings is what the dump shows of the phase: summaries, never
	// resources.
	findings() findings
}

// findings are the summaries learned so far. A phase keeps those of the
// phases before it (a fallback after loading still shows the metadata).
type findings struct {
	meta   *MetadataSummary
	index  *IndexSummary
	apply  *ApplySummary
	reason *states.Reason // why the layer left the happy path, if it did
	err    error          // the hard error, in failed
}

type uninitialized struct{}

// metadataLoaded owns the verified metadata and its origin.
type metadataLoaded struct {
	layer loadedLayer
}

// convertPending holds why the layer must be converted, and what was
// learned before (metadata, if it came from metadata-loaded).
type convertPending struct {
	reason states.Reason
	seen   findings
}

// ready owns the loaded layer and the plan computed from it.
type ready struct {
	layer loadedLayer
	plan  *plan
	reuse *reuse // what the store already has
}

// applied holds the apply summary; every resource is released.
type applied struct {
	seen    findings
	summary ApplySummary
}

// fallback holds why the caller must pull the layer in full.
type fallback struct {
	reason states.Reason
	seen   findings
}

// failed holds the hard error.
type failed struct {
	err    error
	reason states.Reason
	seen   findings
}

// closed keeps what the last phase showed; it owns nothing.
type closed struct {
	last findings
}

// working stands in for a phase claimed by a call in progress (ApplyDiff):
// the call owns the phase's data until it installs the next phase.
type working struct {
	of   states.State
	seen findings
}

func (uninitialized) state() states.State  { return states.Uninitialized }
func (metadataLoaded) state() states.State { return states.MetadataLoaded }
func (convertPending) state() states.State { return states.ConvertPending }
func (ready) state() states.State          { return states.Ready }
func (applied) state() states.State        { return states.Applied }
func (fallback) state() states.State       { return states.Fallback }
func (failed) state() states.State         { return states.Failed }
func (closed) state() states.State         { return states.Closed }
func (w working) state() states.State      { return w.of }

func (uninitialized) findings() findings    { return findings{} }
func (p metadataLoaded) findings() findings { return p.layer.findings() }
func (p convertPending) findings() findings {
	f := p.seen
	f.reason = &p.reason
	return f
}
func (p ready) findings() findings { return p.layer.findings() }
func (p applied) findings() findings {
	f := p.seen
	f.apply = &p.summary
	return f
}
func (p fallback) findings() findings {
	f := p.seen
	f.reason = &p.reason
	return f
}
func (p failed) findings() findings {
	f := p.seen
	f.reason, f.err = &p.reason, p.err
	return f
}
func (p closed) findings() findings  { return p.last }
func (w working) findings() findings { return w.seen }

// release frees whatever the phase owns; the next phase must not share it.
func release(p phase) error {
	switch p := p.(type) {
	case metadataLoaded:
		return p.layer.close()
	case ready:
		return errors.Join(p.plan.close(), p.layer.close())
	}
	return nil
}

// edge is a transition from phase F to phase T: the typed counterpart of
// one or more rows of states.Edges. Passing a phase of the wrong type does
// not compile; TestTypedEdgesMatchTheTable checks each against the table.
type edge[F, T phase] struct{ event states.Event }

var (
	edgeLoad    = edge[uninitialized, metadataLoaded]{states.Load}
	edgeConvert = edge[convertPending, metadataLoaded]{states.Convert}
	edgePrepare = edge[metadataLoaded, ready]{states.Prepare}
	edgeApply   = edge[ready, applied]{states.Apply}
)

// beforeApply are the phases a decline (fall back or plan a conversion)
// can leave: the decision matrix runs before ApplyDiff.
type beforeApply interface {
	uninitialized | metadataLoaded
	phase
}

// live are the phases in which work can still fail.
type live interface {
	uninitialized | metadataLoaded | convertPending | ready
	phase
}

// advance fires e's event and installs to in place of from, which the
// caller holds (it was just built, or claimed). If the machine refuses
// (the differ was closed meanwhile), to's resources are released.
func advance[F, T phase](d *Differ, e edge[F, T], to T, r states.Reason, sizes map[string]int64) error {
	return install(d, e.event, to, to, r, sizes)
}

// advanceHolding is advance for a caller that keeps working on to: the
// differ shows to's state and findings, but no other call can act on it.
func advanceHolding[F, T phase](d *Differ, e edge[F, T], to T, r states.Reason, sizes map[string]int64) error {
	return install(d, e.event, to, working{of: to.state(), seen: to.findings()}, r, sizes)
}

func install(d *Differ, ev states.Event, to, shown phase, r states.Reason, sizes map[string]int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.machine.Fire(ev, r, sizes); err != nil {
		return errors.Join(err, release(to))
	}
	d.phase = shown
	return nil
}

// leave fires ev from the held phase from into a terminal or waiting phase
// built from from's findings, after releasing what from owns.
func leave[F phase](d *Differ, from F, ev states.Event, r states.Reason, to func(seen findings) phase) error {
	rerr := release(from)
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.machine.Fire(ev, r, nil); err != nil {
		return errors.Join(err, rerr)
	}
	d.phase = to(from.findings())
	return rerr
}

// claim takes the current phase for a call that will act on it, leaving a
// working placeholder so that no other call acts on the same data.
func (d *Differ) claim() phase {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.phase
	switch p.(type) {
	case metadataLoaded, convertPending:
		d.phase = working{of: p.state(), seen: p.findings()}
	}
	return p
}
