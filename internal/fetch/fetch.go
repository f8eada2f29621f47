// Package fetch plans range requests for the chunks of files missing
// locally, fetches them with GetBlobAt and streams verified contents into
// destination files.
//
// # Memory
//
// What a fetch holds does not grow with the number of files or chunks
// (FetchFiles reads them on demand):
//
//   - Planning runs a window at a time, ahead of the fetch (plan.go). A
//     window keeps at most 16384 merged ranges of 32 bytes, 16384 clamped
//     chunk ranges of 16 bytes and its calls (80 bytes each; as many as its
//     ranges only when a server takes one range per call): under 3 MiB in
//     that worst case, under 1 MiB when ranges are merged or few. The
//     planner hands calls over one at a time and stays at most one window
//     ahead of the workers: at most Concurrency+2 windows exist (one per
//     worker's call, the one being handed over, the one being read), under
//     12 MiB in the worst case with the default Concurrency of 2.
//   - Each of the Concurrency workers holds the buffers described at
//     Options.Concurrency, one open file and the File it is made from;
//     the planner holds the File it is reading. A File's chunk list is the
//     caller's: one entry per chunk of that file.
//
// Fetch takes the files as a slice, which the caller holds.
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
// fetching reads each again when it opens it, while planning reads on.
// File must describe the same file every time it is asked (a change is
// reported as ErrInvalidInput when it is noticed), and may be called
// concurrently; Fetch does not modify what it returns.
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
// order (as TOC entries are). Invalid files are found while planning, which
// runs ahead of the fetch: files before them may already be complete. On
// error, every file opened and not complete is handed to Sink.Close with a
// non-nil error, and the first error is returned.
func Fetch(ctx context.Context, src chunked.ImageSourceSeekable, files []File, sink Sink, opts Options) (Stats, error) {
	return FetchFiles(ctx, src, List(files), sink, opts)
}

// FetchFiles is Fetch with the files read on demand: planning runs ahead
// of the fetch a window at a time, so memory does not grow with the number
// of files (see the package documentation).
func FetchFiles(ctx context.Context, src chunked.ImageSourceSeekable, files Files, sink Sink, opts Options) (Stats, error) {
	o := opts.withDefaults()
	if o.Codec < Zstd || o.Codec > Raw {
		return Stats{}, fmt.Errorf("fetch: %w: unknown codec %v", ErrInvalidInput, o.Codec)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	f := &fetcher{ctx: ctx, cancel: cancel, src: src, files: files, sink: sink, opts: o,
		handed: map[*openFile]struct{}{}}
	f.maxRanges.Store(int64(o.MaxRangesPerRequest))

	// The planner hands the calls over in order, as it plans them; an
	// unbuffered channel keeps it at most one window ahead of the workers.
	reqs := make(chan *request)
	var issued, done atomic.Int64
	var planned atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(reqs)
		pl := newPlanner(ctx, files, o)
		var prevOut chan *openFile
		for {
			win, err := pl.next() // the previous window is dead here
			if err != nil {
				if ctx.Err() == nil {
					f.fail(err)
				}
				return
			}
			if win == nil {
				planned.Store(true)
				return
			}
			for k := range win.requests {
				rq := &win.requests[k]
				rq.in, rq.out = prevOut, make(chan *openFile, 1)
				prevOut = rq.out
				select {
				case reqs <- rq:
					issued.Add(1)
				case <-ctx.Done():
					return
				}
			}
		}
	})

	stats := make([]Stats, o.Concurrency)
	for i := range o.Concurrency {
		wg.Go(func() {
			var w *worker // its buffers only once it has a call to make
			defer func() {
				if w != nil {
					w.close()
					stats[i] = w.stats
				}
			}()
			for rq := range reqs {
				if ctx.Err() != nil {
					break
				}
				if w == nil {
					w = newWorker(f)
				}
				if err := w.runTop(rq); err != nil {
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
		total.Add(s)
	}
	err := f.firstErr()
	if err == nil && (!planned.Load() || done.Load() < issued.Load()) {
		err = fmt.Errorf("fetch: %w", context.Cause(ctx)) // cancelled between calls
	}
	// A file handed over to a call that never ran is still open.
	for _, of := range f.takeHanded() {
		_ = f.closeFile(of, err) // err already says the fetch failed
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

	// maxRanges is lowered by refusals, for every later call.
	maxRanges atomic.Int64
	calls     atomic.Int64 // numbers the calls, for errors

	sinkMu sync.Mutex // Sink is never called concurrently; guards handed
	// handed holds the files handed from one call to the next and not
	// yet taken: if the next call never runs they are closed at the end.
	handed map[*openFile]struct{}

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

// handOver records of as passed to the next call (taken: false) or taken
// by it.
func (f *fetcher) handOver(of *openFile, taken bool) {
	f.sinkMu.Lock()
	defer f.sinkMu.Unlock()
	if taken {
		delete(f.handed, of)
	} else {
		f.handed[of] = struct{}{}
	}
}

// takeHanded returns the files handed over and never taken.
func (f *fetcher) takeHanded() []*openFile {
	f.sinkMu.Lock()
	defer f.sinkMu.Unlock()
	var out []*openFile
	for of := range f.handed {
		out = append(out, of)
	}
	clear(f.handed)
	return out
}

// closeFile hands of to Sink.Close; err != nil means the file is bad.
func (f *fetcher) closeFile(of *openFile, err error) error {
	f.sinkMu.Lock()
	defer f.sinkMu.Unlock()
	return f.sink.Close(of.index, of.f, err)
}
