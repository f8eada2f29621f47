package zstdchunked

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/readahead"
	"github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/archive/tar"
	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"
)

// Writing (FORMATS.md "zstd-writer") is one streaming pass over the tar. Memory does
// not depend on file sizes: payloads pass through a 64 KiB buffer into the
// chunker (which keeps only a count for an undecided zero run) and the data
// encoder, whose match tables and history are fixed by the level (about
// 50 MiB at level ≥ 10, a few MiB at low levels); the TOC and tar-split
// encoders add a few MiB. Measured: a 55 MiB heap peak streaming a tar with
// a 512 MiB file, the same as with a 32 MiB one (TestWriterBoundedMemory).
// What grows is per entry, as upstream: the compressed TOC and tar-split,
// held until they are appended at the end, tar-split's set of seen paths,
// and, for the file being written, its chunk list (about 150 bytes per
// chunk, one chunk per 64 KiB of data on average). The uncompressed variant
// holds the TOC and tar-split raw.

// readBufSize is the payload read buffer.
const readBufSize = 64 << 10

// The tar is read ahead of the chunker in up to aheadBuffers pieces of at
// most aheadSize bytes (tar-split hands over what its parser read: a
// header, or up to 32 KiB of payload): enough to absorb its per-entry
// pauses, small next to the writer's other buffers (512 KiB).
const (
	aheadSize    = 32 << 10
	aheadBuffers = 16
)

// Result describes a written blob.
type Result struct {
	// Annotations locate and authenticate the TOC and the tar-split, as
	// the layer descriptor must carry them; Map renders them.
	Annotations    Annotations
	TarSplitDigest digest.Digest
	// DiffID is the sha256 of the tar stream, which the blob decompresses
	// to; TarSize is its length. Both are what an image config and the
	// convert path record for the layer.
	DiffID   digest.Digest
	TarSize  int64
	BlobSize int64
	// Entries counts the TOC entries written, chunk entries included.
	Entries int
}

// Compress reads a tar stream and writes it to dst as a zstd:chunked blob
// (or its uncompressed variant, see WithoutCompression). dst receives the
// blob in order and is never seeked. Compress reads tarStream to EOF,
// including anything after the end-of-archive blocks, and does not use it
// after returning.
func Compress(dst io.Writer, tarStream io.Reader, opts ...WriterOption) (*Result, error) {
	return compress(dst, tarStream, newWriterConfig(opts), nil)
}

// Writer is an io.WriteCloser taking a tar stream, like upstream's
// compressor.ZstdCompressor. Close must be called, even after a failed
// Write: it waits for the blob to be complete. Writes and Close are not
// safe for concurrent use.
type Writer struct {
	pw        *io.PipeWriter
	done      chan struct{}
	closeOnce sync.Once
	res       *Result
	err       error
}

// NewWriter returns a Writer that writes the blob to dst. Errors (bad tar,
// unsupported entry, dst failure) surface from Write and Close.
func NewWriter(dst io.Writer, opts ...WriterOption) *Writer {
	cfg := newWriterConfig(opts)
	pr, pw := io.Pipe()
	w := &Writer{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.res, w.err = compress(dst, pr, cfg, func(err error) { pr.CloseWithError(err) })
		// Later Writes fail instead of blocking forever.
		pr.CloseWithError(w.err)
	}()
	return w
}

// Write feeds tar bytes. It fails with the compression error once
// compression has failed.
func (w *Writer) Write(p []byte) (int, error) { return w.pw.Write(p) }

// Close marks the end of the tar stream, waits until the TOC, tar-split and
// footer are written to dst, and returns the first error.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() { _ = w.pw.Close() }) // never fails
	<-w.done
	return w.err
}

// Result returns the blob's description; only after Close.
func (w *Writer) Result() (*Result, error) {
	select {
	case <-w.done:
		return w.res, w.err
	default:
		return nil, errors.New("zstd:chunked writer: Result called before Close")
	}
}

// Map renders the annotations as layer annotations, in upstream's format.
func (a Annotations) Map() map[string]string {
	m := map[string]string{
		AnnotationTOCDigest:   a.TOCDigest.String(),
		AnnotationTOCPosition: fmt.Sprintf("%d:%d:%d:%d", a.TOC.Offset, a.TOC.Length, a.TOC.UncompressedLength, manifestTypeCRFS),
	}
	if a.HasTarSplitPosition() {
		m[AnnotationTarSplitPosition] = fmt.Sprintf("%d:%d:%d", a.TarSplit.Offset, a.TarSplit.Length, a.TarSplit.UncompressedLength)
	}
	return m
}

// blobWriter holds one blob's writing state.
type blobWriter struct {
	bw       *bufio.Writer
	out      *countWriter
	data     *dataWriter
	toc      *metaStream
	tocw     tocWriter
	tarSplit *metaStream
	chunker  chunker
	file     fileSink
	entries  int
	lastName string // of the last header read, to name a duplicate
	// tarHash is the DiffID's, fed on the read-ahead goroutine with every
	// byte of the tar (what dataWriter writes, the frames aside).
	tarHash hash.Hash
}

func newBlobWriter(dst io.Writer, cfg writerConfig) (*blobWriter, error) {
	c := &blobWriter{bw: bufio.NewWriterSize(dst, readBufSize)}
	c.out = &countWriter{w: c.bw}
	c.data = &dataWriter{out: c.out}
	c.tarHash = sha256.New()
	if !cfg.uncompressed {
		enc, err := cfg.newEncoder()
		if err != nil {
			return nil, fmt.Errorf("zstd:chunked writer: %w", err)
		}
		enc.Reset(c.out)
		c.data.enc = enc
	}
	var err error
	if c.toc, err = newMetaStream(cfg); err != nil {
		return nil, fmt.Errorf("zstd:chunked writer: TOC spool: %w", err)
	}
	if c.tarSplit, err = newMetaStream(cfg); err != nil {
		c.toc.close()
		return nil, fmt.Errorf("zstd:chunked writer: tar-split spool: %w", err)
	}
	c.tocw.w = c.toc
	c.file = fileSink{data: c.data, fileHash: sha256.New(), chunkHash: sha256.New()}
	c.chunker.sink = &c.file
	return c, nil
}

// compress runs the whole pass. abort, if set, is called on failure before
// waiting for tar-split's goroutine, to unblock a reader that would
// otherwise wait for more input.
func compress(dst io.Writer, r io.Reader, cfg writerConfig, abort func(error)) (*Result, error) {
	c, err := newBlobWriter(dst, cfg)
	if err != nil {
		return nil, err
	}
	defer c.toc.close()
	defer c.tarSplit.close()
	// tar-split parses the same bytes in its own goroutine, recording
	// everything but payloads; its packer rejects duplicate paths.
	packer := newHashPacker(c.tarSplit, cfg.tempDir)
	defer func() { _ = packer.seen.Close() }() // a temp file at most
	its, done, err := asm.NewInputTarStreamWithDone(r, packer, nil)
	if err != nil {
		return nil, fmt.Errorf("zstd:chunked writer: tar-split: %w", err)
	}
	// tar-split hands its bytes over an io.Pipe, which blocks the parse
	// until this goroutine has taken them: read them ahead (hashing them
	// for the DiffID on the way) so chunking and hashing the payloads run
	// while tar-split parses the next entries.
	ahead := readahead.New(its, aheadSize, aheadBuffers, c.tarHash)
	if err := c.copyTar(ahead); err != nil {
		err = c.wrapErr(err)
		if abort != nil {
			abort(err)
		}
		// Stop the goroutines and wait for them: their errors are
		// consequences of ours. Closing its first unblocks a read ahead
		// waiting on the pipe.
		_ = its.Close()
		_ = ahead.Close()
		doneErr := <-done
		_ = doneErr
		return nil, err
	}
	_ = ahead.Close() // read to EOF already: the DiffID hash is complete
	_ = its.Close()
	if err := <-done; err != nil {
		return nil, c.wrapErr(err)
	}
	if err := c.checkUnique(packer); err != nil {
		return nil, err
	}
	return c.finish()
}

// checkUnique fails when a path repeats (tar-split's packer would have
// refused it at the entry; ours knows at the end), naming that entry.
func (c *blobWriter) checkUnique(p *hashPacker) error {
	k, repeated, err := p.seen.Repeated()
	if err != nil {
		return fmt.Errorf("zstd:chunked writer: checking paths are unique: %w", err)
	}
	if !repeated {
		return nil
	}
	ts, _, _, err := c.tarSplit.finish()
	if err == nil {
		var name string
		if name, err = repeatedPath(ts, c.tarSplit.enc != nil, k); err == nil {
			return &DuplicatePathError{Name: name}
		}
	}
	return fmt.Errorf("zstd:chunked writer: %w: %w", ErrDuplicatePath, err)
}

// copyTar writes the data section: header bytes into the current frame,
// each payload chunk in frames of its own (FORMATS.md "zstd-frames").
func (c *blobWriter) copyTar(its io.Reader) error {
	tr := tar.NewReader(its)
	tr.RawAccounting = true
	buf := make([]byte, readBufSize)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		c.lastName = hdr.Name
		typ, err := entryType(hdr)
		if err != nil {
			return err
		}
		if _, err := c.data.Write(tr.RawBytes()); err != nil {
			return err
		}
		c.file.reset()
		c.chunker.reset()
		for {
			n, err := tr.Read(buf)
			if n > 0 {
				if err := c.chunker.write(buf[:n]); err != nil {
					return err
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("reading tar entry %q: %w", hdr.Name, err)
			}
		}
		if err := c.chunker.close(); err != nil {
			return err
		}
		if err := c.addEntries(hdr, typ); err != nil {
			return err
		}
	}
	// End-of-archive blocks, then whatever follows them: the blob must
	// decompress to the exact input.
	if _, err := c.data.Write(tr.RawBytes()); err != nil {
		return err
	}
	if _, err := io.CopyBuffer(c.data, its, buf); err != nil {
		return fmt.Errorf("reading tar: %w", err)
	}
	return c.data.endFrame()
}

// entryType maps the typeflag to a TOC type, refusing what the format
// cannot describe.
func entryType(hdr *tar.Header) (string, error) {
	typ, ok := tarTypes[hdr.Typeflag]
	if !ok {
		return "", &UnsupportedEntryError{Name: hdr.Name, Typeflag: hdr.Typeflag, Reason: "no zstd:chunked entry type for it"}
	}
	// The tar reader expands PAX-format sparse files, so the bytes it
	// returns are not the tar's: the blob would not decompress to the
	// input. (Upstream writes such a broken blob; we refuse.)
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return "", &UnsupportedEntryError{Name: hdr.Name, Typeflag: hdr.Typeflag, Reason: "GNU sparse files are not supported"}
		}
	}
	return typ, nil
}

// addEntries writes the file's TOC entries (FORMATS.md "chunk-ranges"): the main entry,
// and when the payload has two or more chunks, chunk fields on it and one
// "chunk" entry per further chunk.
func (c *blobWriter) addEntries(hdr *tar.Header, typ string) error {
	f := &c.file
	e := newTOCEntry(hdr, typ)
	if f.started {
		e.Digest = hashDigest(f.fileHash).String()
		e.Offset = f.start
		e.EndOffset = f.chunkStart
	}
	if len(f.chunks) > 1 {
		f.chunks[0].fill(&e)
	}
	if err := c.addEntry(&e); err != nil {
		return err
	}
	for i := 1; i < len(f.chunks); i++ {
		ce := tocEntry{Type: toc.TypeChunk, Name: hdr.Name, ChunkOffset: f.chunks[i].chunkOffset}
		f.chunks[i].fill(&ce)
		if err := c.addEntry(&ce); err != nil {
			return err
		}
	}
	return nil
}

func (c *blobWriter) addEntry(e *tocEntry) error {
	c.entries++
	if err := c.tocw.add(e); err != nil {
		return fmt.Errorf("TOC entry %q: %w", e.Name, err)
	}
	return nil
}

// finish appends the TOC, tar-split and footer frames (FORMATS.md "zstd-footer").
func (c *blobWriter) finish() (*Result, error) {
	fail := func(err error) (*Result, error) { return nil, fmt.Errorf("zstd:chunked writer: %w", err) }
	ts, tsLen, tsDigest, err := c.tarSplit.finish()
	if err != nil {
		return fail(err)
	}
	res := &Result{
		TarSplitDigest: tsDigest,
		DiffID:         hashDigest(c.tarHash),
		TarSize:        c.data.tarSize,
		Entries:        c.entries,
	}
	if err := c.tocw.finish(res.TarSplitDigest); err != nil {
		return fail(err)
	}
	toc, tocLen, tocDigest, err := c.toc.finish()
	if err != nil {
		return fail(err)
	}
	a := &res.Annotations
	a.TOCDigest = tocDigest
	a.TOC = Position{Offset: uint64(c.out.n) + skippableHeader, Length: uint64(tocLen), UncompressedLength: uint64(c.toc.n)}
	a.TarSplit = Position{Offset: a.TOC.Offset + a.TOC.Length + skippableHeader, Length: uint64(tsLen), UncompressedLength: uint64(c.tarSplit.n)}
	footer := footerBytes(a.TOC, a.TarSplit)
	for _, f := range []struct {
		r io.Reader
		n int64
	}{{toc, tocLen}, {ts, tsLen}, {bytes.NewReader(footer), int64(len(footer))}} {
		if err := copySkippable(c.out, f.r, f.n); err != nil {
			return fail(err)
		}
	}
	if err := c.bw.Flush(); err != nil {
		return fail(err)
	}
	res.BlobSize = c.out.n
	return res, nil
}

// wrapErr names the entry behind a duplicate path. tar-split's packer
// rejects the path once it has consumed the entry's payload, so by then
// our reader has returned that entry's header and no further one.
func (c *blobWriter) wrapErr(err error) error {
	if errors.Is(err, storage.ErrDuplicatePath) {
		return &DuplicatePathError{Name: c.lastName}
	}
	var ue *UnsupportedEntryError
	if errors.As(err, &ue) {
		return err
	}
	return fmt.Errorf("zstd:chunked writer: %w", err)
}

// chunkRec is one chunk of the current file.
type chunkRec struct {
	offset, chunkOffset, size int64
	digest                    string
	zeros                     bool
}

func (r chunkRec) fill(e *tocEntry) {
	e.Offset = r.offset
	e.ChunkSize = r.size
	e.ChunkDigest = r.digest
	if r.zeros {
		e.ChunkType = toc.ChunkTypeZeros
	}
}

// fileSink receives one file's chunks from the chunker and writes them in
// frames of their own.
type fileSink struct {
	data       *dataWriter
	started    bool  // a payload byte was written
	start      int64 // blob offset of the first payload frame
	chunkStart int64 // blob offset of the current chunk's frame
	chunkOff   int64 // file offset of the current chunk
	size       int64 // bytes in the current chunk
	fileHash   hash.Hash
	chunkHash  hash.Hash // unused for chunk 0, whose digest is the file hash so far
	chunks     []chunkRec
}

func (f *fileSink) reset() {
	f.started = false
	f.start, f.chunkStart, f.chunkOff, f.size = 0, 0, 0, 0
	f.fileHash.Reset()
	f.chunkHash.Reset()
	f.chunks = f.chunks[:0]
}

func (f *fileSink) payload(p []byte) error {
	if !f.started {
		// The header frame ends before the first payload byte.
		if err := f.data.endFrame(); err != nil {
			return err
		}
		f.started = true
		f.start = f.data.offset()
		f.chunkStart = f.start
	}
	if _, err := f.data.Write(p); err != nil {
		return err
	}
	f.fileHash.Write(p)
	if len(f.chunks) > 0 {
		f.chunkHash.Write(p)
	}
	f.size += int64(len(p))
	return nil
}

func (f *fileSink) cut(zeros bool) error {
	if err := f.data.endFrame(); err != nil {
		return err
	}
	h := f.chunkHash
	if len(f.chunks) == 0 {
		h = f.fileHash // Sum does not disturb the running file hash
	}
	f.chunks = append(f.chunks, chunkRec{
		offset:      f.chunkStart,
		chunkOffset: f.chunkOff,
		size:        f.size,
		digest:      hashDigest(h).String(),
		zeros:       zeros,
	})
	f.chunkHash.Reset()
	f.chunkOff += f.size
	f.size = 0
	f.chunkStart = f.data.offset()
	return nil
}

// hashDigest renders a sha256 state as a digest.
func hashDigest(h hash.Hash) digest.Digest {
	var b [sha256.Size]byte
	return digest.Digest("sha256:" + hex.EncodeToString(h.Sum(b[:0])))
}
