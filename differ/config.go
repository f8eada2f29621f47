package differ

import (
	"context"
	"errors"
	"fmt"
	"os"

	dcontext "github.com/chunkdiff/chunkdiff/differ/context"
	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/formats"
	"github.com/chunkdiff/chunkdiff/internal/blob/seekable"
	"github.com/opencontainers/go-digest"
	storage "go.podman.io/storage"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/chunked"
)

// Layer is the blob to pull: what the image manifest says about it and where
// its bytes come from.
type Layer struct {
	Digest      digest.Digest
	Size        int64 // -1: unknown (only for layers without a TOC)
	Annotations map[string]string
	// Source serves the blob's ranges; nil only when nothing will be read.
	Source chunked.ImageSourceSeekable
}

// Config is everything a differ is built with besides the layer. New
// validates it once, up front, and fills its defaults (the model is etcd
// raft's Config.validate); nothing reads a Config field afterwards.
type Config struct {
	// Store is where the layer will be staged. Optional: with it, its graph
	// driver must accept a differ (rules "driver-unavailable" and
	// "driver-without-differ" in docs/BEHAVIOUR.md) and metadata spools
	// default to its run root.
	Store storage.Store
	// Pull are the pull options. Nil takes the Store's, as upstream does;
	// nil without a Store is an error.
	Pull *dcontext.PullOptions
	// ContentIndex opens the Store's content index so that ApplyDiff can
	// reuse files and chunks of other layers (rule "reuse"). Needs Store.
	ContentIndex bool
	// Limits bound what the layer may make us fetch or spool; zero fields
	// take the defaults. An unset MetadataPolicy takes the pull option
	// chunkdiff_metadata_policy, else "stream".
	Limits dcontext.Limits
	// TempDir receives the metadata spools; "" means the Store's run root,
	// else os.TempDir(). If set, it must be an existing directory.
	TempDir string
}

// validate fills the defaults and rejects what cannot work, naming the
// field. It reads the store's pull options once.
func (c *Config) validate() error {
	if c.Pull == nil {
		if c.Store == nil {
			return errors.New("differ config: Pull is required without a Store")
		}
		p := dcontext.ParsePullOptions(c.Store.PullOptions())
		c.Pull = &p
	}
	if c.ContentIndex && c.Store == nil {
		return errors.New("differ config: ContentIndex needs a Store")
	}
	if c.Limits.MetadataPolicy == "" && c.Pull.MetadataPolicy != "" {
		c.Limits.MetadataPolicy = formats.MetadataPolicy(c.Pull.MetadataPolicy)
		if err := c.Limits.MetadataPolicy.Validate(); err != nil {
			return fmt.Errorf("differ config: pull option %s: %w", dcontext.KeyMetadataPolicy, err)
		}
	}
	limits, err := c.Limits.WithDefaults()
	if err != nil {
		return fmt.Errorf("differ config: %w", err)
	}
	c.Limits = limits
	if c.TempDir != "" {
		st, err := os.Stat(c.TempDir)
		if err != nil {
			return fmt.Errorf("differ config: TempDir: %w", err)
		}
		if !st.IsDir() {
			return fmt.Errorf("differ config: TempDir %s is not a directory", c.TempDir)
		}
	}
	return nil
}

// contextOptions are the validated settings as the context takes them.
func (c *Config) contextOptions() []dcontext.Option {
	opts := []dcontext.Option{dcontext.WithPullOptions(*c.Pull), dcontext.WithLimits(c.Limits)}
	if c.TempDir != "" {
		opts = append(opts, dcontext.WithTempDir(c.TempDir))
	}
	if c.Store != nil {
		opts = append(opts, dcontext.WithStorePaths(c.Store.GraphRoot(), c.Store.RunRoot()))
	}
	return opts
}

// New is the one constructor: it validates cfg, then runs the decisions that
// need no destination (docs/BEHAVIOUR.md, rules up to "metadata-loaded"). An
// invalid cfg returns a nil differ. Otherwise the differ is returned even on
// error, in its terminal state, so its Dump can be inspected; the caller must
// Close it. Call it without holding any storage lock.
func New(ctx context.Context, layer Layer, cfg Config) (*Differ, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d := &Differ{machine: states.New(), phase: uninitialized{}}
	pull := *cfg.Pull
	if !pull.EnablePartialImages { // rule "partial-images-disabled"
		return d, decline(d, uninitialized{}, pull.ConvertImages,
			states.Because(states.CodePartialDisabled, "%s is not true", dcontext.KeyEnablePartialImages), nil)
	}
	if cfg.Store != nil {
		driver, err := cfg.Store.GraphDriver() // rule "driver-unavailable"
		if err != nil {
			return d, fail(d, uninitialized{}, fmt.Errorf("getting the store's graph driver: %w", err))
		}
		if _, ok := driver.(graphdriver.DriverWithDiffer); !ok { // rule "driver-without-differ"
			return d, decline(d, uninitialized{}, pull.ConvertImages,
				states.Because(states.CodeNoDifferDriver, "graph driver %q cannot apply a differ", driver.String()), nil)
		}
		if usesComposefs(driver.String(), cfg.Store.GraphOptions()) { // rule "environment"
			return d, decline(d, uninitialized{}, pull.ConvertImages,
				states.Because(states.CodeComposefsStore, "the overlay driver uses composefs, whose layers need upstream's own TOC type"), nil)
		}
	}
	if r, ok := hostReason(); ok { // rule "environment"
		return d, decline(d, uninitialized{}, pull.ConvertImages, r, nil)
	}
	c, err := dcontext.New(layer.Digest, layer.Size, layer.Annotations, seekable.From(layer.Source), cfg.contextOptions()...)
	if err != nil { // rules "ambiguous-format" and "bad-toc-digest"
		return d, fail(d, uninitialized{}, fmt.Errorf("invalid layer description: %w", err))
	}
	d.ctx = c // set once, before the differ escapes
	d.life = newLifetime(ctx)
	reg := &registry{ostree: pull.OSTreeRepos}
	if cfg.ContentIndex {
		reg.store = cfg.Store
	}
	return d, d.load(d.runCtx(), reg)
}

// NewDiffer is upstream's chunked.NewDiffer, signature and fallback semantics
// included: a layer that cannot be pulled partially returns an error matching
// chunked.ErrFallbackToOrdinaryLayerDownload, and a nil differ on any error.
// Call it without holding any storage lock.
func NewDiffer(ctx context.Context, store storage.Store, blobDigest digest.Digest, blobSize int64, annotations map[string]string, iss chunked.ImageSourceSeekable) (graphdriver.Differ, error) {
	d, err := OpenWithStore(ctx, store, blobDigest, blobSize, annotations, iss)
	if err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

// OpenWithStore is NewDiffer returning the concrete differ, and returning it
// even on error, in its terminal state, so its Dump can be inspected. The
// caller must Close it. It is New with the store's pull options and content
// index and default limits.
func OpenWithStore(ctx context.Context, store storage.Store, blobDigest digest.Digest, blobSize int64, annotations map[string]string, iss chunked.ImageSourceSeekable) (*Differ, error) {
	if store == nil {
		return nil, errors.New("chunkdiff: OpenWithStore needs a store")
	}
	return New(ctx, Layer{Digest: blobDigest, Size: blobSize, Annotations: annotations, Source: iss},
		Config{Store: store, ContentIndex: true})
}

// Open is New without a store, for the CLI and tests: the pull options are
// given, limits and the temp dir come from opts (dcontext.WithLimits,
// dcontext.WithTempDir). Like OpenWithStore it returns the differ even on
// error; the caller must Close it.
func Open(ctx context.Context, pull dcontext.PullOptions, blobDigest digest.Digest, blobSize int64, annotations map[string]string, iss chunked.ImageSourceSeekable, opts ...dcontext.Option) (*Differ, error) {
	s := dcontext.Collect(opts...)
	if s.GraphRoot != "" || s.RunRoot != "" {
		return nil, errors.New("chunkdiff: Open takes no store paths; use New with Config.Store")
	}
	return New(ctx, Layer{Digest: blobDigest, Size: blobSize, Annotations: annotations, Source: iss},
		Config{Pull: &pull, Limits: s.Limits, TempDir: s.TempDir})
}
