package zstdchunked

import (
	"bufio"
	"crypto/sha256"
	"hash"
	"io"
	"os"

	"github.com/chunkdiff/chunkdiff/internal/spool"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
)

// countWriter counts the blob bytes written so far, which is what TOC
// offsets are measured in.
type countWriter struct {
	w io.Writer
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
	tarSize int64
}

func (d *dataWriter) Write(p []byte) (int, error) {
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

// metaStream spools the TOC or the tar-split as stored in its skippable
// frame (zstd-compressed, or raw in the uncompressed variant) to an
// unlinked temp file, hashing the stored bytes on the way: their size grows
// with the number of tar entries (about 1 KiB each), so they are never held
// in memory (upstream keeps both in memory until the end).
type metaStream struct {
	file   *os.File
	bw     *bufio.Writer // over file and hash
	hash   hash.Hash     // of the stored bytes
	stored countWriter   // bytes stored (compressed)
	enc    *zstd.Encoder // nil: raw
	n      int64         // uncompressed bytes
}

func newMetaStream(c writerConfig) (*metaStream, error) {
	f, err := spool.Open(c.tempDir)
	if err != nil {
		return nil, err
	}
	m := &metaStream{file: f, hash: sha256.New()}
	m.bw = bufio.NewWriterSize(io.MultiWriter(f, m.hash), 64<<10)
	m.stored.w = m.bw
	if c.uncompressed {
		return m, nil
	}
	enc, err := c.newMetaEncoder()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	enc.Reset(&m.stored)
	m.enc = enc
	return m, nil
}

func (m *metaStream) Write(p []byte) (int, error) {
	m.n += int64(len(p))
	if m.enc == nil {
		return m.stored.Write(p)
	}
	return m.enc.Write(p)
}

// finish ends the stream and returns the stored bytes to copy, their
// length and digest. The reader stays valid until close.
func (m *metaStream) finish() (io.Reader, int64, digest.Digest, error) {
	if m.enc != nil {
		if err := m.enc.Close(); err != nil {
			return nil, 0, "", err
		}
	}
	if err := m.bw.Flush(); err != nil {
		return nil, 0, "", err
	}
	return io.NewSectionReader(m.file, 0, m.stored.n), m.stored.n, digest.NewDigest(digest.SHA256, m.hash), nil
}

// close releases the spool.
func (m *metaStream) close() {
	if m != nil && m.file != nil {
		_ = m.file.Close()
		m.file = nil
	}
}

var _ io.Writer = (*metaStream)(nil)
