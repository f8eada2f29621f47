package zstdchunked

import (
	"bufio"
	"bytes"
	"hash"
	"io"

	"github.com/klauspost/compress/zstd"
)

// countWriter counts the blob bytes written so far, which is what TOC
// offsets are measured in.
type countWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// dataWriter writes the data section. Every byte written is a tar byte
// (hashed for the DiffID); endFrame makes the next byte start a new,
// independently decodable zstd frame (FORMATS.md "zstd-frames"). In the uncompressed
// variant frames do not exist and bytes go straight to the blob.
type dataWriter struct {
	out     *countWriter
	enc     *zstd.Encoder // nil: uncompressed variant
	open    bool          // the current frame holds data
	tarHash hash.Hash
	tarSize int64
}

func (d *dataWriter) Write(p []byte) (int, error) {
	d.tarHash.Write(p) // a hash.Hash never fails
	d.tarSize += int64(len(p))
	if d.enc == nil {
		return d.out.Write(p)
	}
	if len(p) > 0 {
		d.open = true
	}
	return d.enc.Write(p)
}

// endFrame closes the current frame if it holds anything. Empty frames
// are never written: they carry nothing and would only shift offsets.
func (d *dataWriter) endFrame() error {
	if d.enc == nil || !d.open {
		return nil
	}
	if err := d.enc.Close(); err != nil {
		return err
	}
	d.enc.Reset(d.out)
	d.open = false
	return nil
}

// offset is the blob offset the next frame starts at; exact only right
// after endFrame (a frame's bytes are flushed when it is closed).
func (d *dataWriter) offset() int64 { return d.out.n }

// metaStream accumulates the TOC or the tar-split as stored in its
// skippable frame: zstd-compressed, or raw in the uncompressed variant.
// Both are kept in memory until the end, like upstream; their size grows
// with the number of tar entries, not with the data.
type metaStream struct {
	buf bytes.Buffer
	enc *zstd.Encoder // nil: raw
	n   int64         // uncompressed bytes
}

func newMetaStream(c writerConfig) (*metaStream, error) {
	m := &metaStream{}
	if c.uncompressed {
		return m, nil
	}
	enc, err := c.newMetaEncoder()
	if err != nil {
		return nil, err
	}
	enc.Reset(&m.buf)
	m.enc = enc
	return m, nil
}

func (m *metaStream) Write(p []byte) (int, error) {
	m.n += int64(len(p))
	if m.enc == nil {
		return m.buf.Write(p)
	}
	return m.enc.Write(p)
}

// finish ends the stream and returns the stored bytes.
func (m *metaStream) finish() ([]byte, error) {
	if m.enc != nil {
		if err := m.enc.Close(); err != nil {
			return nil, err
		}
	}
	return m.buf.Bytes(), nil
}

var _ io.Writer = (*metaStream)(nil)
