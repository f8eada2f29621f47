package zstdchunked

import "github.com/klauspost/compress/zstd"

// DefaultLevel is the zstd level upstream's writer uses when none is given.
const DefaultLevel = 10

// WriterOption configures NewWriter and Compress.
type WriterOption func(*writerConfig)

type writerConfig struct {
	level        int
	uncompressed bool
	tempDir      string
}

func newWriterConfig(opts []WriterOption) writerConfig {
	c := writerConfig{level: DefaultLevel}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithLevel sets the zstd compression level (1…22) of the data frames,
// mapped onto the encoder's speed classes the way upstream maps it
// (zstd.EncoderLevelFromZstd). The TOC and tar-split use at most the
// default speed class whatever the level, see newMetaEncoder.
func WithLevel(level int) WriterOption { return func(c *writerConfig) { c.level = level } }

// WithoutCompression writes the "convert_images" variant (FORMATS.md "convert-variant"): the
// same layout with the raw tar in place of zstd frames and the TOC and
// tar-split stored raw. It is not a valid zstd blob and must never be
// published; the TOC digest annotation is the digest of the raw TOC JSON.
func WithoutCompression() WriterOption { return func(c *writerConfig) { c.uncompressed = true } }

// WithTempDir sets where the TOC and tar-split are spooled while the data
// is written (unlinked temp files; default os.TempDir()). They take about
// 1 KiB per tar entry, stored form.
func WithTempDir(dir string) WriterOption { return func(c *writerConfig) { c.tempDir = dir } }

// newEncoder returns an encoder at the configured level. Concurrency 1:
// frames are small and restarted constantly, so background block
// goroutines cost more than they give, and memory stays predictable.
func (c writerConfig) newEncoder() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(c.level)),
		zstd.WithEncoderConcurrency(1))
}

// newMetaEncoder returns the encoder of the TOC or the tar-split. Upstream
// uses the data level, but at level ≥ 10 each encoder carries about 50 MiB
// of match tables and history: three at once would triple the writer's
// footprint for JSON that compresses nearly as well at the default speed
// class. Readers do not care how a frame was compressed.
func (c writerConfig) newMetaEncoder() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil,
		zstd.WithEncoderLevel(min(zstd.EncoderLevelFromZstd(c.level), zstd.SpeedDefault)),
		zstd.WithEncoderConcurrency(1),
		zstd.WithLowerEncoderMem(true))
}
