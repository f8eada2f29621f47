package differ

import (
	"context"
	"errors"

	"github.com/chunkdiff/chunkdiff/internal/blobstream"
)

// ErrClosed is the cause of the differ's context once Close was called.
var ErrClosed = errors.New("chunkdiff: differ closed")

// lifetime is the context every read from the source runs under: the ctx
// given to NewDiffer (upstream ignores it; we honour it in NewDiffer and
// ApplyDiff alike, which has no ctx of its own), cancelled too by Close. A
// source that stalls or never closes its channels then ends the call with
// the cause; what is left to drain is drained until Close at the latest.
type lifetime struct {
	run     context.Context
	stop    context.CancelCauseFunc
	endLife context.CancelFunc
}

func newLifetime(ctx context.Context) lifetime {
	life, endLife := context.WithCancel(context.WithoutCancel(ctx))
	run, stop := context.WithCancelCause(ctx)
	return lifetime{run: blobstream.WithLifetime(run, life), stop: stop, endLife: endLife}
}

// runCtx is the context for source reads (Background if New stopped
// before setting the lifetime). d.life is set once, before the differ
// escapes New, so reading it needs no lock.
func (d *Differ) runCtx() context.Context {
	if d.life.run == nil {
		return context.Background()
	}
	return d.life.run
}

// end cancels reads in flight and stops background drains.
func (l lifetime) end() {
	if l.stop != nil {
		l.stop(ErrClosed)
		l.endLife()
	}
}
