// Package fetch plans range requests for the chunks of files missing
// locally, fetches them with GetBlobAt and streams verified contents into
// destination files.
package fetch

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/chunkdiff/chunkdiff/formats"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/storage/pkg/chunked"
)

// Chunk is one piece of a file in the blob.
type Chunk struct {
	// Offset and Length are the compressed byte range in the blob. Length
	// may include trailing frames (FORMATS.md "chunk-ranges"): decoding stops after Size
	// bytes and the rest is discarded.
	Offset, Length int64
	Size           int64         // uncompressed bytes this chunk produces
	Digest         digest.Digest // of the uncompressed bytes; "" when the format gives none
	Zeros          bool          // a run of zeros: a hole, nothing fetched
	// Local, when set, holds the chunk's uncompressed bytes at LocalOffset
	// (content already in the store): they are copied, not fetched. The
	// caller has checked them against Digest; they are hashed again on the
	// way into the file (the file digest, or Digest without one), so a
	// source changed since is caught.
	Local       io.ReaderAt
	LocalOffset int64
}

// File is a file to produce from its chunks.
type File struct {
	Name   string // for errors
	Size   int64
	Digest digest.Digest // whole-file digest, any available algorithm; "" skips the check
	Chunks []Chunk       // in file order, sizes summing to Size
}

// Sink receives the contents. Fetch never calls it concurrently.
type Sink interface {
	// Open creates the i-th file for writing. Within one GetBlobAt call
	// files are opened in ascending order; with Concurrency > 1 the calls
	// for different requests interleave.
	Open(i int) (*os.File, error)
	// Close finishes the i-th file. err == nil: the contents are complete
	// and verified, so set attributes and close. Otherwise just close (and
	// the caller will discard the file).
	Close(i int, f *os.File, err error) error
}

// Defaults for Options.
const (
	// DefaultMaxRangesPerRequest and DefaultAutoMergeGap are defined, with
	// their reasons, next to the other limits in package formats.
	DefaultMaxRangesPerRequest = formats.DefaultMaxRangesPerRequest
	DefaultAutoMergeGap        = formats.DefaultAutoMergeGap
	// DefaultRequestCost is what one extra GetBlobAt call is worth in
	// downloaded bytes (a round trip at registry speeds), see plan.go.
	DefaultRequestCost = 1 << 20
	// DefaultConcurrency: one call being decoded while another waits on the
	// network, on the two cores we target.
	DefaultConcurrency = 2
)

// Options tune planning and fetching. Zero values take the defaults.
type Options struct {
	Codec Codec
	// MaxRangesPerRequest caps the ranges of one GetBlobAt call.
	MaxRangesPerRequest int
	// AutoMergeGap: gaps up to this many bytes are always merged; negative
	// merges only touching ranges.
	AutoMergeGap int64
	// RequestCost: bytes one extra call is worth when deciding whether to
	// merge bigger gaps or issue more calls (plan.go). Negative: upstream's
	// rule, merge until everything fits one call.
	RequestCost int64
	// Concurrency: GetBlobAt calls in flight. Memory is bounded by
	// Concurrency × (bufio + copy buffers, 192 KiB, plus one decoder:
	// zstd keeps the current frame's window, ≤ 8 MiB for upstream's
	// level-10 frames; gzip 32 KiB), plus one open stream and at most one
	// open file each.
	Concurrency int
	// MinCalls splits the work into at least this many calls (cut at file
	// boundaries) when there is enough of it, so Concurrency workers have
	// something to do. For local sources, where a call costs nothing; a
	// registry pays a round trip per call. 0 or 1: no splitting.
	MinCalls int
}

func (o Options) withDefaults() Options {
	if o.MaxRangesPerRequest <= 0 {
		o.MaxRangesPerRequest = DefaultMaxRangesPerRequest
	}
	switch {
	case o.AutoMergeGap == 0:
		o.AutoMergeGap = DefaultAutoMergeGap
	case o.AutoMergeGap < 0:
		o.AutoMergeGap = 0
	}
	if o.RequestCost == 0 {
		o.RequestCost = DefaultRequestCost
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	return o
}

// Files gives the files to produce by index, so that a caller can keep
// them out of memory: planning reads every file once, in order, and
// fetching reads each again when it opens it. File must describe the same
// file every time it is asked, and may be called concurrently; Fetch does
// not modify what it returns.
type Files interface {
	Len() int
	File(i int) (*File, error)
}

// List is Files held in memory.
type List []File

// Len implements Files.
func (l List) Len() int { return len(l) }

// File implements Files.
func (l List) File(i int) (*File, error) { return &l[i], nil }

// Fetch produces files from src into sink. Files must be in ascending blob
// order (as TOC entries are). On error, every file opened is handed to
// Sink.Close with a non-nil error, and the first error is returned.
func Fetch(ctx context.Context, src chunked.ImageSourceSeekable, files []File, sink Sink, opts Options) (Stats, error) {
	return FetchFiles(ctx, src, List(files), sink, opts)
}

// FetchFiles is Fetch with the files read on demand; what the plan keeps
// per file is a few dozen bytes per chunk.
func FetchFiles(ctx context.Context, src chunked.ImageSourceSeekable, files Files, sink Sink, opts Options) (Stats, error) {
	o := opts.withDefaults()
	if o.Codec < Zstd || o.Codec > Raw {
		return Stats{}, fmt.Errorf("fetch: %w: unknown codec %v", ErrInvalidInput, o.Codec)
	}
	p, err := newPlan(files, o)
	if err != nil {
		return Stats{}, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	f := &fetcher{ctx: ctx, cancel: cancel, src: src, files: files, sink: sink, opts: o, plan: p,
		handoff: make([]chan *openFile, len(p.requests))}
	f.maxRanges.Store(int64(o.MaxRangesPerRequest))
	for i := range f.handoff {
		f.handoff[i] = make(chan *openFile, 1)
	}

	workers := min(o.Concurrency, len(p.requests))
	stats := make([]Stats, workers)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			w := newWorker(f)
			defer func() {
				w.close()
				stats[i] = w.stats
			}()
			for {
				k := int(next.Add(1) - 1)
				if k >= len(p.requests) || ctx.Err() != nil {
					break
				}
				if err := w.runTop(k); err != nil {
					if ctx.Err() != nil {
						// Cancelled first (by the caller or another
						// worker's failure): that is the real error,
						// not whatever the interrupted read said.
						err = fmt.Errorf("fetch: %w", context.Cause(ctx))
					}
					w.abort(err)
					f.fail(err)
					break
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()

	var total Stats
	for _, s := range stats {
		total.add(s)
	}
	err = f.firstErr()
	if err == nil && int(done.Load()) < len(p.requests) {
		err = fmt.Errorf("fetch: %w", context.Cause(ctx)) // cancelled between calls
	}
	// A file handed over to a call that never ran is still open.
	for _, ch := range f.handoff {
		select {
		case of := <-ch:
			_ = f.closeFile(of, err) // err already says the fetch failed
		default:
		}
	}
	return total, err
}

// fetcher is the state shared by the workers of one Fetch.
type fetcher struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	src    chunked.ImageSourceSeekable
	files  Files
	sink   Sink
	opts   Options
	plan   *plan

	// maxRanges is lowered by refusals, for every later call.
	maxRanges atomic.Int64
	calls     atomic.Int64 // numbers the calls, for errors
	// handoff[k] carries the file request k leaves unfinished to k+1.
	handoff []chan *openFile

	sinkMu sync.Mutex // Sink is never called concurrently

	errMu sync.Mutex
	err   error
}

func (f *fetcher) fail(err error) {
	f.errMu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.errMu.Unlock()
	f.cancel(err)
}

func (f *fetcher) firstErr() error {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	return f.err
}

// lowerMaxRanges makes n the cap for later calls if it is lower.
func (f *fetcher) lowerMaxRanges(n int) {
	for {
		cur := f.maxRanges.Load()
		if int64(n) >= cur || f.maxRanges.CompareAndSwap(cur, int64(n)) {
			return
		}
	}
}

func (f *fetcher) openFile(i int) (*openFile, error) {
	file, err := f.files.File(i)
	if err != nil {
		return nil, fmt.Errorf("fetch: reading file %d of the list: %w", i, err)
	}
	f.sinkMu.Lock()
	fd, err := f.sink.Open(i)
	f.sinkMu.Unlock()
	if err != nil {
		return nil, &FileError{File: file.Name, Chunk: -1, Err: err}
	}
	of := &openFile{index: i, f: fd, file: file}
	if d := file.Digest; d != "" {
		of.hash = d.Algorithm().Hash()
	}
	return of, nil
}

// closeFile hands of to Sink.Close; err != nil means the file is bad.
func (f *fetcher) closeFile(of *openFile, err error) error {
	f.sinkMu.Lock()
	defer f.sinkMu.Unlock()
	return f.sink.Close(of.index, of.f, err)
}
