// Package differ is chunkdiff's drop-in graphdriver.Differ for
// containers/storage: NewDiffer has upstream's signature and fallback error
// type, and every decision it makes is a named, recorded transition of the
// lifecycle in package states.
package differ

import (
	"context"
	"errors"
	"fmt"
	"sync"

	dcontext "github.com/chunkdiff/chunkdiff/differ/context"
	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/internal/index"
	"github.com/opencontainers/go-digest"
	storage "go.podman.io/storage"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/chunked"
)

// Differ pulls one layer. It is single-use: NewDiffer or Open, at most one
// ApplyDiff, then Close.
type Differ struct {
	machine *states.Machine
	pull    dcontext.PullOptions
	loc     locator // content already in the store; nil without a store

	mu      sync.Mutex
	ctx     *dcontext.Context // nil until built (rows 1-3 come first)
	phase   phase
	meta    *MetadataSummary // kept after the metadata itself is released
	applied *ApplySummary    // set once the layer is staged
	// index is the store's content index, open from load to the end of
	// ApplyDiff (or Close); indexErr says why there is none.
	index      *index.Index
	indexStats *IndexSummary
	indexErr   string
	err        error // the hard error, in Failed
}

var _ graphdriver.Differ = (*Differ)(nil)

// NewDiffer is upstream's chunked.NewDiffer, signature and fallback semantics
// included: a layer that cannot be pulled partially returns an error matching
// chunked.ErrFallbackToOrdinaryLayerDownload, and a nil differ on any error.
// Call it without holding any storage lock.
func NewDiffer(ctx context.Context, store storage.Store, blobDigest digest.Digest, blobSize int64, annotations map[string]string, iss chunked.ImageSourceSeekable) (graphdriver.Differ, error) {
	d, err := openWithStore(ctx, store, blobDigest, blobSize, annotations, iss)
	if err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

// OpenWithStore is NewDiffer returning the concrete differ, and returning it
// even on error, in its terminal state, so its Dump can be inspected. The
// caller must Close it.
func OpenWithStore(ctx context.Context, store storage.Store, blobDigest digest.Digest, blobSize int64, annotations map[string]string, iss chunked.ImageSourceSeekable) (*Differ, error) {
	return openWithStore(ctx, store, blobDigest, blobSize, annotations, iss)
}

func openWithStore(ctx context.Context, store storage.Store, blobDigest digest.Digest, blobSize int64, annotations map[string]string, iss chunked.ImageSourceSeekable) (*Differ, error) {
	d := newDiffer(dcontext.ParsePullOptions(store.PullOptions()))
	if err := d.checkEnabled(); err != nil {
		return d, err
	}
	driver, err := store.GraphDriver() // row 2
	if err != nil {
		return d, d.fail(fmt.Errorf("getting the store's graph driver: %w", err))
	}
	if _, ok := driver.(graphdriver.DriverWithDiffer); !ok { // row 3
		return d, d.decline(states.Because(states.CodeNoDifferDriver, "graph driver %q cannot apply a differ", driver.String()), nil)
	}
	if usesComposefs(driver.String(), store.GraphOptions()) {
		return d, d.decline(states.Because(states.CodeComposefsStore, "the overlay driver uses composefs, whose layers need upstream's own TOC type"), nil)
	}
	if r, ok := hostReason(); ok {
		return d, d.decline(r, nil)
	}
	if err := d.start(ctx, blobDigest, blobSize, annotations, iss,
		dcontext.WithStorePaths(store.GraphRoot(), store.RunRoot())); err != nil {
		return d, err
	}
	// Content already in the store, for ApplyDiff to reuse (BEHAVIOUR §7).
	if d.State() != states.Fallback {
		d.openIndex(store)
	}
	return d, nil
}

// Open is the constructor without a store, for the CLI and tests: the pull
// options and everything else are passed explicitly. Like OpenWithStore it
// returns the differ even on error; the caller must Close it.
func Open(ctx context.Context, pull dcontext.PullOptions, blobDigest digest.Digest, blobSize int64, annotations map[string]string, iss chunked.ImageSourceSeekable, opts ...dcontext.Option) (*Differ, error) {
	d := newDiffer(pull)
	if err := d.checkEnabled(); err != nil {
		return d, err
	}
	if r, ok := hostReason(); ok {
		return d, d.decline(r, nil)
	}
	return d, d.start(ctx, blobDigest, blobSize, annotations, iss, opts...)
}

func newDiffer(pull dcontext.PullOptions) *Differ {
	return &Differ{machine: states.New(), pull: pull, phase: uninitialized{}}
}

// checkEnabled is row 1: partial pulls must be enabled. It is a fallback even
// with convert_images, as upstream.
func (d *Differ) checkEnabled() error {
	if d.pull.EnablePartialImages {
		return nil
	}
	return d.decline(states.Because(states.CodePartialDisabled, "%s is not true", dcontext.KeyEnablePartialImages), nil)
}

// start builds the context (rows 4-5) and loads the metadata (rows 6-19).
func (d *Differ) start(ctx context.Context, blobDigest digest.Digest, blobSize int64, annotations map[string]string, iss chunked.ImageSourceSeekable, opts ...dcontext.Option) error {
	opts = append(opts, dcontext.WithPullOptions(d.pull))
	c, err := dcontext.New(blobDigest, blobSize, annotations, iss, opts...)
	if err != nil {
		return d.fail(fmt.Errorf("invalid layer description: %w", err))
	}
	d.mu.Lock()
	d.ctx = c
	d.mu.Unlock()
	return d.load(ctx, c)
}

// State returns the current lifecycle state.
func (d *Differ) State() states.State { return d.machine.Current() }

// Context returns the immutable context, nil if the differ stopped before
// building it (partial pulls disabled, no differ-capable driver).
func (d *Differ) Context() *dcontext.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ctx
}

// advance fires ev and installs next as the current phase. The caller has
// already released (or handed on) what the previous phase owned.
func (d *Differ) advance(ev states.Event, r states.Reason, sizes map[string]int64, next phase) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, err := d.machine.Fire(ev, r, sizes)
	if err != nil {
		return err
	}
	if t.To != next.state() {
		panic(fmt.Sprintf("chunkdiff: %s leads to %s but the phase is %s", ev, t.To, next.state()))
	}
	d.phase = next
	return nil
}

// current returns the current phase.
func (d *Differ) current() phase {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.phase
}

// releaseCurrent frees what the current phase owns.
func (d *Differ) releaseCurrent() error {
	d.mu.Lock()
	p := d.phase
	d.mu.Unlock()
	return release(p)
}

// decline applies upstream's rule to a reason why a partial pull is
// impossible: fall back, plan a conversion, or fail (states.Decide).
func (d *Differ) decline(r states.Reason, cause error) error {
	dec := states.Decide(r, d.pull.ConvertImages)
	switch dec.Event {
	case states.FallBack:
		_ = d.releaseCurrent()
		if err := d.advance(states.FallBack, r, nil, fallback{reason: r}); err != nil {
			return err
		}
		return fallbackError(r, cause)
	case states.PlanConvert:
		_ = d.releaseCurrent()
		return d.advance(states.PlanConvert, r, nil, convertPending{reason: r})
	default:
		msg := "neither a partial pull nor convert_images is possible: " + r.String()
		if r.Code == states.CodeNoDifferDriver {
			msg = "convert_images requires a graph driver that can apply a differ: " + r.String()
		}
		if cause != nil {
			// %v, not %w: the cause may itself be a fallback-like error and
			// this one must not match the fallback type.
			return d.fail(fmt.Errorf("%s (%v)", msg, cause))
		}
		return d.fail(errors.New(msg))
	}
}

// fail moves to Failed, recording err, and returns it.
func (d *Differ) fail(err error) error {
	_ = d.releaseCurrent()
	d.mu.Lock()
	d.err = err
	d.mu.Unlock()
	if ferr := d.advance(states.Fail, states.Because(states.CodeError, "%v", err), nil, failed{err: err}); ferr != nil {
		return errors.Join(err, ferr)
	}
	return err
}

// Close releases everything the differ holds. It is safe to call more than
// once.
func (d *Differ) Close() error {
	if d == nil {
		return nil
	}
	if d.machine.Current() == states.Closed {
		return nil
	}
	d.closeIndex()
	err := d.releaseCurrent()
	if aerr := d.advance(states.Close, states.Reason{}, nil, closed{}); aerr != nil {
		return errors.Join(err, aerr)
	}
	return err
}
