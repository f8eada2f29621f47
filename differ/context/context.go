package dcontext

import (
	"fmt"
	"maps"
	"os"

	"github.com/opencontainers/go-digest"

	"github.com/chunkdiff/chunkdiff/internal/blob"
)

// Context is everything a differ knows before it reads a byte of the layer.
// It has no exported fields and no setters.
type Context struct {
	blobDigest  digest.Digest
	blobSize    int64
	annotations map[string]string
	source      blob.Source
	pull        PullOptions
	limits      Limits
	tempDir     string
	graphRoot   string
	runRoot     string
	format      Format
	tocDigest   digest.Digest
}

// Option configures New.
type Option func(*Settings)

// Settings are what the options set; Collect returns them. Zero fields take
// New's defaults.
type Settings struct {
	Pull      PullOptions
	Limits    Limits
	TempDir   string
	GraphRoot string
	RunRoot   string
}

// Collect applies opts to zero Settings.
func Collect(opts ...Option) Settings {
	var s Settings
	for _, o := range opts {
		o(&s)
	}
	return s
}

// WithPullOptions sets the pull options (default: all off).
func WithPullOptions(p PullOptions) Option { return func(c *Settings) { c.Pull = p.clone() } }

// WithLimits sets the limits; zero fields take the defaults.
func WithLimits(l Limits) Option { return func(c *Settings) { c.Limits = l } }

// WithTempDir sets where metadata spools (TOC, tar-split) are created.
// Default: the store's run root if WithStorePaths gave one, else os.TempDir.
func WithTempDir(dir string) Option { return func(c *Settings) { c.TempDir = dir } }

// WithStorePaths records the store's graph and run roots.
func WithStorePaths(graphRoot, runRoot string) Option {
	return func(c *Settings) { c.GraphRoot, c.RunRoot = graphRoot, runRoot }
}

// New validates its input once and returns an immutable Context. The source
// may be nil only for layers that are converted from a local file later; the
// differ checks that before any fetch.
func New(blobDigest digest.Digest, blobSize int64, annotations map[string]string, source blob.Source, opts ...Option) (*Context, error) {
	cfg := Collect(opts...)
	if err := blobDigest.Validate(); err != nil {
		return nil, fmt.Errorf("blob digest %q: %w", blobDigest, err)
	}
	if blobSize < -1 {
		return nil, fmt.Errorf("blob size %d is invalid (-1 means unknown)", blobSize)
	}
	limits, err := cfg.Limits.WithDefaults()
	if err != nil {
		return nil, err
	}
	format, tocDigest, err := DetectFormat(annotations)
	if err != nil {
		return nil, err
	}
	tempDir := cfg.TempDir
	if tempDir == "" {
		tempDir = cfg.RunRoot
	}
	if tempDir == "" {
		tempDir = os.TempDir()
	}
	return &Context{
		blobDigest:  blobDigest,
		blobSize:    blobSize,
		annotations: maps.Clone(annotations),
		source:      source,
		pull:        cfg.Pull.clone(),
		limits:      limits,
		tempDir:     tempDir,
		graphRoot:   cfg.GraphRoot,
		runRoot:     cfg.RunRoot,
		format:      format,
		tocDigest:   tocDigest,
	}, nil
}

// BlobDigest is the compressed blob's digest.
func (c *Context) BlobDigest() digest.Digest { return c.blobDigest }

// BlobSize is the compressed blob's size, -1 if unknown.
func (c *Context) BlobSize() int64 { return c.blobSize }

// Annotations returns a copy of the layer's annotations.
func (c *Context) Annotations() map[string]string { return maps.Clone(c.annotations) }

// Source is where the blob's bytes come from.
func (c *Context) Source() blob.Source { return c.source }

// PullOptions returns a copy of the pull options.
func (c *Context) PullOptions() PullOptions { return c.pull.clone() }

// Limits returns the limits in force, defaults filled in.
func (c *Context) Limits() Limits { return c.limits }

// TempDir is where metadata spools are created.
func (c *Context) TempDir() string { return c.tempDir }

// GraphRoot and RunRoot are the store's roots ("" without a store).
func (c *Context) GraphRoot() string { return c.graphRoot }

// RunRoot is the store's run root ("" without a store).
func (c *Context) RunRoot() string { return c.runRoot }

// Format is the layer's chunked format.
func (c *Context) Format() Format { return c.format }

// TOCDigest is the TOC digest from the annotations ("" for FormatNone).
func (c *Context) TOCDigest() digest.Digest { return c.tocDigest }

// Summary is the context as the diagnostic dump shows it.
type Summary struct {
	BlobDigest  digest.Digest `json:"blob_digest"`
	BlobSize    int64         `json:"blob_size"`
	Format      Format        `json:"format"`
	TOCDigest   digest.Digest `json:"toc_digest,omitempty"`
	PullOptions PullOptions   `json:"pull_options"`
	Limits      Limits        `json:"limits"`
	TempDir     string        `json:"temp_dir"`
	GraphRoot   string        `json:"graph_root,omitempty"`
	RunRoot     string        `json:"run_root,omitempty"`
}

// Summary returns the dump view of the context.
func (c *Context) Summary() Summary {
	return Summary{
		BlobDigest: c.blobDigest, BlobSize: c.blobSize, Format: c.format, TOCDigest: c.tocDigest,
		PullOptions: c.pull.clone(), Limits: c.limits, TempDir: c.tempDir,
		GraphRoot: c.graphRoot, RunRoot: c.runRoot,
	}
}
