package differ

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/chunkdiff/chunkdiff/internal/apply"
	"github.com/chunkdiff/chunkdiff/internal/fetch"
	"github.com/chunkdiff/chunkdiff/internal/offsets"
	"github.com/opencontainers/go-digest"
	"go.podman.io/storage/pkg/chunked"
)

// Whole files found in the store are verified while they are copied into
// the new layer, not before: the candidate is read once, its bytes hashed
// on their way into the layer, and the copy kept only when they hash to the
// TOC's digest. The copies run on copyWorkers goroutines alongside the
// fetch of the files that have no candidate (and the DiffID, which waits
// for each file, copied or fetched, to be complete). A copy that does not
// verify is removed at once and its file fetched from the blob afterwards
// (fetchRejected), so the layer never holds an unverified byte when
// ApplyDiff returns, and a failed pull leaves nothing behind (ApplyDiff's
// cleanup).

// copyRun is the copying of a layer's reused files, started by startCopies.
type copyRun struct {
	wg       sync.WaitGroup
	mu       sync.Mutex
	err      error
	rejected int // candidates whose bytes did not verify, marked in reuse.whole
}

// copyWorkers bounds the copies at once. A copy mostly waits for a cold
// read of a small file: more of them in flight keep the disk's queue full
// (reading the Go tree's 15k files cold took 5.3-7.0 s with 16 readers,
// 7.0-8.4 s with 4, on the loaded benchmark machine), while the hashing
// they add is a small part of a core.
const copyWorkers = 8

// startCopies copies (or hard-links) the candidates whose records are at
// jobs (offsets in reuse.whole), in order, on copyWorkers goroutines; a
// failure other than a rejected candidate cancels ctx. Each worker holds
// one candidate, and at most one open source, at a time.
func (m *materializer) startCopies(ctx context.Context, cancel context.CancelCauseFunc, jobs *offsets.List) *copyRun {
	run := &copyRun{}
	fail := func(err error) {
		run.mu.Lock()
		if run.err == nil {
			run.err = err
		}
		run.mu.Unlock()
		cancel(err)
	}
	var next atomic.Int64
	for range min(copyWorkers, jobs.Len()) {
		run.wg.Go(func() {
			buf := make([]byte, 256<<10)
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= jobs.Len() {
					return
				}
				off, err := jobs.At(i)
				var job candidate
				if err == nil {
					job, err = m.reuse.whole.read(off)
				}
				var ok bool
				if err == nil {
					ok, err = m.copyReused(job, buf)
				}
				if err == nil && !ok {
					err = m.reuse.whole.reject(job.k, off)
				}
				if err != nil {
					fail(err)
					return
				}
				if !ok {
					run.mu.Lock()
					run.rejected++
					run.mu.Unlock()
					m.reuse.reject()
				} else if m.progress != nil {
					m.progress.complete(job.k)
				}
			}
		})
	}
	return run
}

// wait returns how many candidates were rejected, or the first failure.
func (run *copyRun) wait(ctx context.Context) (int, error) {
	run.wg.Wait()
	if run.err != nil {
		return 0, run.err
	}
	if ctx.Err() != nil {
		return 0, context.Cause(ctx)
	}
	return run.rejected, nil
}

// copyReused materialises job's file from its candidate: a hard link when
// allowed and the attributes match, else a reflink or copy. ok is false when
// the candidate is gone or its bytes are not the file's (nothing is left in
// the layer then); err is a failure to write the layer.
func (m *materializer) copyReused(job candidate, buf []byte) (ok bool, err error) {
	it, err := m.plan.layout.ReadAt(job.at)
	if err != nil {
		return false, err
	}
	e := &it.Entry
	d := e.Digest
	src := m.reuse.openSource(job.loc)
	if src == nil {
		return false, nil // gone since planning
	}
	defer src.Close()
	// Planning checked the attributes on a descriptor it closed since: the
	// path may name another file now, so check again the one linked. If
	// they no longer match, a copy still saves the download.
	if job.link && linkable(src, e, m.root) {
		// The inode is shared, not copied: verify it, then link it.
		if !verifies(src, 0, e.Size, d) {
			return false, nil
		}
		if err := m.root.LinkFile(e, src); err != nil {
			return false, err
		}
		m.reuse.mu.Lock()
		m.reuse.FilesLinked++
		m.reuse.BytesLinked += e.Size
		m.reuse.mu.Unlock()
		return true, nil
	}
	f, err := m.root.CreateFile(e)
	if err != nil {
		return false, err
	}
	h := d.Algorithm().Hash()
	method, cerr := apply.CopyVerified(f, src, e.Size, h, buf)
	if cerr != nil || digest.NewDigest(d.Algorithm(), h) != d {
		// Not the file's bytes (or unreadable): remove the copy; the file
		// is fetched instead.
		if err := m.root.DiscardFile(e, f); err != nil {
			return false, fmt.Errorf("discarding the rejected copy of %q: %w", e.Name, err)
		}
		return false, nil
	}
	if err := m.root.FinishFile(e, f); err != nil {
		return false, err
	}
	m.reuse.mu.Lock()
	m.reuse.FilesCopied++
	m.reuse.BytesCopied += e.Size
	if method == apply.Reflink {
		m.reuse.FilesReflinked++
	}
	m.reuse.mu.Unlock()
	if m.verity != nil {
		if err := m.verity.record(m.root, e.Name); err != nil {
			return false, err
		}
	}
	return true, nil
}

// fetchRejected fetches, after the main fetch, the files whose candidates
// did not verify: those reuse.whole's index marks, in layer order.
func (m *materializer) fetchRejected(ctx context.Context, src chunked.ImageSourceSeekable, opts fetch.Options) (fetch.Stats, error) {
	at, ks := m.newList(), m.newList()
	s := m.reuse.whole.scan()
	for k := range m.plan.fetchAt.Len() {
		off, ok, rejected, err := s.next()
		if err != nil {
			return fetch.Stats{}, err
		}
		if !ok || !rejected {
			continue
		}
		job, err := m.reuse.whole.read(off)
		if err != nil {
			return fetch.Stats{}, err
		}
		if job.k != k {
			return fetch.Stats{}, fmt.Errorf("the reuse candidate of fetch file %d names fetch file %d", k, job.k)
		}
		if err := appendTo(at, job.at, "the rejected files"); err != nil {
			return fetch.Stats{}, err
		}
		if err := appendTo(ks, int64(k), "the rejected files"); err != nil {
			return fetch.Stats{}, err
		}
	}
	m.createdAt, m.createdK = at, ks
	m.files = files{p: m.plan, at: at, ks: ks}
	return fetch.FetchFiles(ctx, src, m.files, m, opts)
}
