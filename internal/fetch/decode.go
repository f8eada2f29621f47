package fetch

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Codec is how chunk bytes are stored in the blob.
type Codec int

const (
	// Zstd: zstd frames (zstd:chunked).
	Zstd Codec = iota
	// Gzip: gzip members (eStargz).
	Gzip
	// Raw: uncompressed bytes (the local "convert_images" layout).
	Raw
)

func (c Codec) String() string {
	switch c {
	case Zstd:
		return "zstd"
	case Gzip:
		return "gzip"
	case Raw:
		return "raw"
	}
	return fmt.Sprintf("Codec(%d)", int(c))
}

// ctxReader is the bottom of a worker's input: it counts bytes and stops
// reading once the fetch is cancelled (checked per buffer fill, so a
// cancelled fetch stops within one bufio buffer of input).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
	n   int64
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// limited hands a decoder at most n bytes of the buffered stream. It is an
// io.ByteReader, so the gzip reader uses it directly instead of adding its
// own buffer, which could read past the chunk.
type limited struct {
	br  *bufio.Reader
	n   int64
	eof bool // the stream ended before n bytes
}

func (l *limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.br.Read(p)
	l.n -= int64(n)
	if err == io.EOF {
		l.eof = true
	}
	return n, err
}

func (l *limited) ReadByte() (byte, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	b, err := l.br.ReadByte()
	switch err {
	case nil:
		l.n--
	case io.EOF:
		l.eof = true
	}
	return b, err
}

// MaxZstdWindow caps the window a chunk's zstd frame may ask for, and so a
// worker's decoder memory: writers use at most 8 MiB (what RFC 8878 asks
// decoders to support); a hostile frame header asking for 2 GiB fails.
const MaxZstdWindow = 32 << 20

// decoder is a worker's reusable decompressor.
type decoder struct {
	codec Codec
	zd    *zstd.Decoder
	// gz is only ever Reset, never Closed: upstream's eStargz panic ("close
	// of closed channel") came from reusing a pgzip reader after Close.
	gz gzip.Reader
}

// reset starts decoding the chunk input r.
func (d *decoder) reset(r *limited) (io.Reader, error) {
	switch d.codec {
	case Zstd:
		if d.zd == nil {
			// One goroutine-free decoder per worker: the concurrency
			// comes from the workers, and decoding synchronously never
			// reads ahead of what is asked for.
			// Lowmem: smaller buffers for the history; MaxWindow: a
			// hostile frame header cannot make it allocate more than
			// upstream's writers ever need (8 MiB) with room to spare.
			zd, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(MaxZstdWindow))
			if err != nil {
				return nil, err
			}
			d.zd = zd
		}
		if err := d.zd.Reset(r); err != nil {
			return nil, err
		}
		return d.zd, nil
	case Gzip:
		if err := d.gz.Reset(r); err != nil {
			return nil, err
		}
		return &d.gz, nil
	case Raw:
		return r, nil
	}
	return nil, fmt.Errorf("%w: unknown codec %v", ErrInvalidInput, d.codec)
}

func (d *decoder) close() {
	if d.zd != nil {
		d.zd.Close()
		d.zd = nil
	}
}
