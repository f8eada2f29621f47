// Package differ is chunkdiff's drop-in graphdriver.Differ for
// containers/storage: NewDiffer has upstream's signature and fallback error
// type, and every decision it makes is a named, recorded transition of the
// lifecycle in package states.
package differ

import (
	"errors"
	"fmt"
	"sync"

	dcontext "github.com/chunkdiff/chunkdiff/differ/context"
	"github.com/chunkdiff/chunkdiff/differ/states"
	graphdriver "go.podman.io/storage/drivers"
)

// Differ pulls one layer. It is single-use: New (or NewDiffer, Open), at
// most one ApplyDiff, then Close. It holds the immutable context, the
// machine that validates and records every transition, and the current
// phase, which owns all the data valid in the current state.
type Differ struct {
	ctx     *dcontext.Context // set once by New; nil if New stopped before building it
	machine *states.Machine

	// life bounds every read from the source: the ctx given to New,
	// cancelled too by Close. Set once by New, before the differ escapes.
	life lifetime

	mu    sync.Mutex // guards phase and orders it with the machine
	phase phase
}

var _ graphdriver.Differ = (*Differ)(nil)

// State returns the current lifecycle state.
func (d *Differ) State() states.State {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.phase.state()
}

// Context returns the immutable context, nil if the differ stopped before
// building it (partial pulls disabled, no differ-capable driver).
func (d *Differ) Context() *dcontext.Context { return d.ctx }

// decline applies upstream's rule to a reason why a partial pull is
// impossible: fall back, plan a conversion, or fail (states.Decide). from is
// the phase the caller holds; what it owns is released.
func decline[F beforeApply](d *Differ, from F, convertImages bool, r states.Reason, cause error) error {
	dec := states.Decide(r, convertImages)
	switch dec.Event {
	case states.FallBack:
		if err := leave(d, from, states.FallBack, r, func(seen findings) phase { return fallback{reason: r, seen: seen} }); err != nil {
			return err
		}
		return fallbackError(r, cause)
	case states.PlanConvert:
		return leave(d, from, states.PlanConvert, r, func(seen findings) phase { return convertPending{reason: r, seen: seen} })
	default:
		msg := "neither a partial pull nor convert_images is possible: " + r.String()
		if r.Code == states.CodeNoDifferDriver {
			msg = "convert_images requires a graph driver that can apply a differ: " + r.String()
		}
		if cause != nil {
			// %v, not %w: the cause may itself be a fallback-like error and
			// this one must not match the fallback type.
			return fail(d, from, fmt.Errorf("%s (%v)", msg, cause))
		}
		return fail(d, from, errors.New(msg))
	}
}

// fail moves from the held phase from to failed, recording err, and
// returns it.
func fail[F live](d *Differ, from F, err error) error {
	r := states.Because(states.CodeError, "%v", err)
	if ferr := leave(d, from, states.Fail, r, func(seen findings) phase { return failed{err: err, reason: r, seen: seen} }); ferr != nil {
		return errors.Join(err, ferr)
	}
	return err
}

// Close releases everything the differ holds. It is safe to call more than
// once. A phase claimed by a call in progress is released by that call.
func (d *Differ) Close() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	p := d.phase
	if _, ok := p.(closed); ok {
		d.mu.Unlock()
		return nil
	}
	if _, err := d.machine.Fire(states.Close, states.Reason{}, nil); err != nil {
		d.mu.Unlock()
		return err
	}
	d.phase = closed{last: p.findings()}
	d.mu.Unlock()
	d.life.end() // reads in flight end; background drains stop
	return release(p)
}
