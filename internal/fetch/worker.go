package fetch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/chunkdiff/chunkdiff/internal/blobstream"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/storage/pkg/chunked"
)

// Per-worker buffer sizes: big enough that syscalls and channel hops are
// amortised, small enough that Concurrency × both stays well under 1 MiB.
const (
	readBufSize = 64 << 10
	copyBufSize = 128 << 10
)

// worker runs calls one at a time: it reads the streams in order, decodes
// each chunk and writes it, so a file's bytes are always written in order.
type worker struct {
	f      *fetcher
	dec    decoder
	in     ctxReader
	br     *bufio.Reader
	pos    int64 // blob offset of the next byte of br
	lim    limited
	lr     io.LimitedReader
	fw     fileWriter
	buf    []byte
	chunkH map[digest.Algorithm]hash.Hash
	cur    *openFile // the file being written, if any
	stats  Stats
}

func newWorker(f *fetcher) *worker {
	w := &worker{
		f:      f,
		dec:    decoder{codec: f.opts.Codec},
		in:     ctxReader{ctx: f.ctx},
		buf:    make([]byte, copyBufSize),
		chunkH: map[digest.Algorithm]hash.Hash{},
	}
	w.br = bufio.NewReaderSize(&w.in, readBufSize)
	w.lim.br = w.br
	return w
}

func (w *worker) close() {
	w.dec.close()
	w.stats.BytesFetched += w.in.n
	w.in.n = 0
}

// abort closes the file being written as failed.
func (w *worker) abort(err error) {
	if w.cur != nil {
		_ = w.f.closeFile(w.cur, err)
		w.cur = nil
	}
}

// runTop runs a planned call, taking over the file the previous call left
// unfinished and handing over the one it leaves.
func (w *worker) runTop(rq *request) error {
	if rq.s0.less(rq.s1) && rq.s0.chunk > 0 {
		// Wait before asking for data: a stream must not sit idle while
		// the previous call finishes the file.
		select {
		case w.cur = <-rq.in:
			w.f.handOver(w.cur, true)
		case <-w.f.ctx.Done():
			return context.Cause(w.f.ctx)
		}
	}
	if err := w.run(rq); err != nil {
		return err
	}
	if w.cur != nil {
		w.f.handOver(w.cur, false)
		rq.out <- w.cur // buffered: never blocks
		w.cur = nil
	}
	return nil
}

// run makes one call, or several if refusals lowered the cap.
func (w *worker) run(rq *request) error {
	f := w.f
	if maxR := int(f.maxRanges.Load()); len(rq.spans) > maxR {
		for _, sub := range rq.w.split(rq.a0, rq.a1, rq.s0, rq.s1, maxR, f.opts.RequestCost, f.opts.MinCalls) {
			if err := w.run(&sub); err != nil {
				return err
			}
		}
		return nil
	}
	if len(rq.spans) == 0 {
		return w.steps(rq, nil, -1)
	}
	ranges := make([]chunked.ImageSourceChunk, len(rq.spans))
	for i, s := range rq.spans {
		ranges[i] = chunked.ImageSourceChunk{Offset: uint64(s.start), Length: uint64(s.end - s.start)}
	}
	n := int(f.calls.Add(1) - 1)
	w.stats.Requests++
	resp, err := blobstream.Get(f.ctx, f.src, ranges)
	if err != nil {
		if bad := (chunked.ErrBadRequest{}); errors.As(err, &bad) {
			if len(ranges) == 1 {
				return &RequestError{Request: n, Ranges: 1, Err: fmt.Errorf("%w: %w", ErrRangesRefused, err)}
			}
			w.stats.Halvings++
			f.lowerMaxRanges(len(ranges) / 2)
			return w.run(rq)
		}
		return &RequestError{Request: n, Ranges: len(ranges), Err: err}
	}
	w.stats.Ranges += len(ranges)
	if err := w.steps(rq, resp, n); err != nil {
		resp.Abandon()
		return err
	}
	if err := resp.Finish(f.ctx); err != nil {
		return &RequestError{Request: n, Ranges: len(ranges), Err: err}
	}
	return nil
}

// errChanged: the plan was made from what Files said earlier.
var errChanged = fmt.Errorf("fetch: %w: the file list changed between reads", ErrInvalidInput)

// steps produces steps [s0,s1) of rq, reading its spans from resp in order.
// The files' chunks are read again here (the plan keeps only its spans): a
// data chunk's range is [Offset, Offset+Length) unless the window clamped
// it.
func (w *worker) steps(rq *request, resp *blobstream.Response, call int) (err error) {
	f := w.f
	clamps := rq.w.clamps
	ci := rq.w.clampsFrom(rq.s0)
	si := -1 // span being read
	var st io.ReadCloser
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	for at := rq.s0; at.less(rq.s1); {
		if w.cur == nil {
			if w.cur, err = f.openFile(int(at.file)); err != nil {
				return err
			}
		} else if w.cur.index != int(at.file) {
			return fmt.Errorf("fetch: internal error: file %d open while producing file %d", w.cur.index, at.file)
		}
		file := w.cur.file
		j := int(at.chunk)
		if len(file.Chunks) > 0 {
			if j >= len(file.Chunks) {
				return &FileError{File: file.Name, Chunk: j, Err: errChanged}
			}
			c := &file.Chunks[j]
			switch {
			case isData(c):
				end := c.Offset + c.Length
				if ci < len(clamps) && clamps[ci].at == at {
					end = clamps[ci].end
					ci++
				}
				for si < 0 || c.Offset >= rq.spans[si].end {
					if st != nil {
						if err := w.endSpan(); err != nil {
							return &RequestError{Request: call, Ranges: resp.Want(), Err: fmt.Errorf("range %d: %w", si, err)}
						}
						st.Close()
						st = nil
					}
					si++
					if si == len(rq.spans) {
						return &FileError{File: file.Name, Chunk: j, Offset: c.Offset, Err: errChanged}
					}
					if st, err = resp.Next(f.ctx); err != nil {
						return &RequestError{Request: call, Ranges: resp.Want(), Err: err}
					}
					w.in.r = st
					w.br.Reset(&w.in)
					w.pos = rq.spans[si].start
				}
				if c.Offset < w.pos || end > rq.spans[si].end {
					return &FileError{File: file.Name, Chunk: j, Offset: c.Offset, Err: errChanged}
				}
				err = w.fetchChunk(file, j, c.Offset, end)
			case c.Zeros:
				err = w.hole(file, j)
			case c.Local != nil:
				err = w.local(file, j)
			}
			if err != nil {
				return &FileError{File: file.Name, Chunk: j, Offset: c.Offset, Err: err}
			}
		}
		if j+1 >= len(file.Chunks) {
			if err := w.finishFile(file); err != nil {
				return err
			}
			at = pos{file: at.file + 1}
		} else {
			at.chunk++
		}
	}
	if st != nil {
		if err := w.endSpan(); err != nil {
			return &RequestError{Request: call, Ranges: resp.Want(), Err: fmt.Errorf("range %d: %w", si, err)}
		}
	}
	if resp != nil && si+1 != resp.Want() {
		return fmt.Errorf("fetch: internal error: read %d of %d ranges", si+1, resp.Want())
	}
	return nil
}

// endSpan checks that the current stream ends exactly at its range end.
func (w *worker) endSpan() error {
	_, err := w.br.ReadByte()
	switch err {
	case nil:
		return ErrLongStream
	case io.EOF:
		return nil
	}
	return err
}

// skip discards n bytes of the current stream.
func (w *worker) skip(n int64) error {
	k, err := w.br.Discard(int(n))
	w.pos += int64(k)
	if int64(k) < n {
		if err == io.EOF {
			err = ErrShortStream
		}
		return fmt.Errorf("skipping %d bytes at %d: %w", n, w.pos, err)
	}
	return nil
}

// chunkCheck returns the hash that verifies a chunk, or nil when there is
// nothing to gain from one: the whole-file digest already covers every byte
// (and is checked before the file is handed over), so hashing each chunk
// again would only double the cost of the hottest loop.
func (w *worker) chunkCheck(d digest.Digest) hash.Hash {
	if w.cur.hash != nil {
		return nil
	}
	return w.chunkHash(d)
}

// chunkHash returns the worker's reset hash for d, or nil if d is "".
func (w *worker) chunkHash(d digest.Digest) hash.Hash {
	if d == "" {
		return nil
	}
	h := w.chunkH[d.Algorithm()]
	if h == nil {
		h = d.Algorithm().Hash()
		w.chunkH[d.Algorithm()] = h
	} else {
		h.Reset()
	}
	return h
}

// fetchChunk decodes chunk j of file, whose clamped range is [off,end),
// from the current stream into the current file.
func (w *worker) fetchChunk(file *File, j int, off, end int64) error {
	c := &file.Chunks[j]
	if gap := off - w.pos; gap > 0 {
		if err := w.skip(gap); err != nil {
			return err
		}
	}
	w.lim.n, w.lim.eof = end-off, false
	w.pos = end
	r, err := w.dec.reset(&w.lim)
	if err == nil {
		w.fw.of, w.fw.chunk = w.cur, w.chunkCheck(c.Digest)
		w.lr.R, w.lr.N = r, c.Size
		var n int64
		n, err = io.CopyBuffer(&w.fw, &w.lr, w.buf)
		w.stats.BytesWritten += n
		if err == nil && n < c.Size {
			err = fmt.Errorf("%w: %d of %d bytes", ErrShortData, n, c.Size)
		}
		w.lr.R, w.fw.of = nil, nil
	}
	if err != nil {
		if w.lim.eof {
			err = fmt.Errorf("%w: %w", ErrShortStream, err)
		}
		return fmt.Errorf("%v: %w", w.dec.codec, err)
	}
	w.cur.tailHole = false
	// The rest of the range is trailing frames (or padding): discard it.
	if rest := w.lim.n; rest > 0 {
		w.lim.n = 0
		w.pos -= rest
		if err := w.skip(rest); err != nil {
			return err
		}
	}
	return verify(w.fw.chunk, c.Digest, file.Name, j)
}

// local copies a chunk from content already on disk.
func (w *worker) local(file *File, j int) error {
	c := &file.Chunks[j]
	w.fw.of, w.fw.chunk = w.cur, w.chunkCheck(c.Digest)
	n, err := io.CopyBuffer(&w.fw, io.NewSectionReader(c.Local, c.LocalOffset, c.Size), w.buf)
	w.fw.of = nil
	w.stats.LocalBytes += n
	if err == nil && n < c.Size {
		err = fmt.Errorf("%w: local source gave %d of %d bytes", ErrShortData, n, c.Size)
	}
	if err != nil {
		return fmt.Errorf("copying local chunk: %w", err)
	}
	w.cur.tailHole = false
	return verify(w.fw.chunk, c.Digest, file.Name, j)
}

// hole produces a zero chunk: no bytes written, only the offset moves.
func (w *worker) hole(file *File, j int) error {
	c := &file.Chunks[j]
	h := w.chunkCheck(c.Digest)
	hashZeros(c.Size, w.cur.hash, h)
	w.cur.off += c.Size
	w.cur.tailHole = w.cur.tailHole || c.Size > 0
	w.stats.HoleBytes += c.Size
	return verify(h, c.Digest, file.Name, j)
}

// finishFile verifies the current file and hands it to Sink.Close.
func (w *worker) finishFile(file *File) error {
	of := w.cur
	var err error
	if of.off != file.Size {
		err = fmt.Errorf("fetch: internal error: produced %d bytes, size %d", of.off, file.Size)
	}
	if err == nil && of.tailHole {
		if e := of.f.Truncate(file.Size); e != nil {
			err = &FileError{File: file.Name, Chunk: -1, Err: e}
		}
	}
	if err == nil {
		if e := verify(of.hash, file.Digest, file.Name, -1); e != nil {
			err = &FileError{File: file.Name, Chunk: -1, Err: e}
		}
	}
	w.cur = nil
	if cerr := w.f.closeFile(of, err); err == nil && cerr != nil {
		err = &FileError{File: file.Name, Chunk: -1, Err: cerr}
	}
	if err == nil {
		w.stats.Files++
	}
	return err
}
