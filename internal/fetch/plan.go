package fetch

import (
	"context"
	"fmt"
	"slices"
	"sort"
)

// Planning turns the files' chunks into GetBlobAt calls.
//
// Every data chunk is a network part. Parts whose gap is at most
// AutoMergeGap are always merged ("atoms"), as upstream does: a request
// header costs more than a few hundred skipped bytes. Beyond that upstream
// merges the smallest gaps until everything fits one call of 1024 ranges,
// whatever they cost; a layer whose missing files are spread thinly can so
// download most of the blob for a few files.
//
// Rule used here: merging the m smallest gaps costs their bytes and leaves
// n-m ranges, i.e. ceil((n-m)/T) calls of at most T ranges. Choose the m
// that minimises
//
//	bytes(m smallest gaps) + RequestCost × calls(m)
//
// (ties: fewer bytes), where RequestCost is what one extra call is worth in
// bytes. Only m = 0 or m = n - k·T can be optimal (merging without saving a
// call only adds bytes), so the choice is a scan over prefix sums. With a
// negative RequestCost this is upstream's rule (one call, m = n - T). With
// T = 1 (a server refusing multi-range requests) it reduces to "merge a gap
// iff it is smaller than RequestCost".
//
// Windows. The rule is applied to one window of at most windowAtoms atoms
// at a time, not to the whole layer: the planner reads the files in order,
// closes a window when it is full, plans its calls and hands them to the
// workers while it reads on. A window keeps only its atoms (32 bytes each)
// and the few chunk ranges that had to be clamped (clamp); the files'
// chunks are read again by the worker that fetches them. A plan over the
// whole layer can share a call's unused ranges between what are here two
// windows, and merge the gap at their boundary: with B boundaries the
// windowed plan costs at most (B + ceil(B/T)) × RequestCost more by the
// rule's measure (TestPlanWindows checks it), and it never merges the
// boundary gaps. A full window is at least 16 calls of 1024 ranges, so
// that is about one call in 16 on a sparse layer; a layer with fewer than
// windowAtoms atoms (a cold pull, a typical update) is planned exactly as
// a whole.

// Window limits: memory per window is about windowAtoms × 70 bytes while it
// is planned (atoms, the merged spans, the sort order) and windowClamps × 16
// bytes of clamped ranges. Variables so that tests can make windows small.
var (
	windowAtoms  = 16384
	windowClamps = 16384
)

// pos is a step of file output, in file order: chunk of file, or chunk 0 of
// a file without chunks (the file is still opened and closed).
type pos struct {
	file, chunk int32
}

func (a pos) less(b pos) bool {
	return a.file < b.file || a.file == b.file && a.chunk < b.chunk
}

// isData reports whether c is fetched from the blob.
func isData(c *Chunk) bool { return !c.Zeros && c.Local == nil && c.Size > 0 }

// span is a byte range of the blob covering atoms [a0,a1) of its window
// (an atom covers itself); first is the step of its first data chunk.
type span struct {
	start, end int64
	first      pos
	a0, a1     int32
}

// clamp records a data chunk whose range ran into the next data chunk's and
// was cut to end there (TOC ranges may include trailing frames). Every other
// data chunk's range is [Offset, Offset+Length).
type clamp struct {
	at  pos
	end int64
}

// window is a run of steps [start,end) planned as a whole.
type window struct {
	start, end pos
	atoms      []span
	clamps     []clamp // sorted by at
	requests   []request
}

// request is one GetBlobAt call: it produces steps [s0,s1) and fetches
// atoms [a0,a1) of w merged into spans.
type request struct {
	w      *window
	s0, s1 pos
	a0, a1 int
	spans  []span
	// in carries the file the previous call left unfinished (nil for the
	// first call), out the one this call leaves to the next.
	in  <-chan *openFile
	out chan *openFile
}

// minCallBytes: below this a split costs more in coordination than a
// second worker saves.
const minCallBytes = 4 << 20

// planner reads the files in order and cuts them into planned windows.
type planner struct {
	ctx   context.Context
	files Files
	o     Options
	n     int

	i   int   // file being read
	f   *File // its chunks, while being read
	j   int   // next chunk of f
	sum int64 // chunk sizes of f so far

	// prev is the last data chunk seen: its end is known (clamped) only
	// once the next data chunk's offset is.
	prev     struct{ off, end int64 }
	prevAt   pos
	prevName string
	havePrev bool

	cur  *window   // being built
	out  []*window // closed, not yet returned
	done bool
}

func newPlanner(ctx context.Context, files Files, o Options) *planner {
	return &planner{ctx: ctx, files: files, o: o, n: files.Len(), cur: &window{}}
}

// next returns the next planned window, nil after the last one.
func (pl *planner) next() (*window, error) {
	for len(pl.out) == 0 {
		if pl.done {
			return nil, nil
		}
		if err := pl.advance(); err != nil {
			pl.done, pl.out = true, nil
			return nil, err
		}
	}
	w := pl.out[0]
	pl.out[0] = nil
	pl.out = pl.out[1:]
	return w, nil
}

// advance reads one chunk (or a file without chunks, or the end).
func (pl *planner) advance() error {
	if pl.f == nil {
		if pl.i == pl.n {
			if pl.havePrev {
				pl.add(pl.prev.off, pl.prev.end, pl.prevAt, false)
			}
			pl.closeWindow(pos{file: int32(pl.n)})
			pl.done = true
			return nil
		}
		if pl.i%1024 == 0 && pl.ctx.Err() != nil {
			return fmt.Errorf("fetch: %w", context.Cause(pl.ctx))
		}
		f, err := pl.files.File(pl.i)
		if err != nil {
			return fmt.Errorf("fetch: reading file %d of the list: %w", pl.i, err)
		}
		if f.Digest != "" {
			if err := f.Digest.Validate(); err != nil {
				return bad(f, -1, 0, "file digest: %v", err)
			}
		}
		if len(f.Chunks) == 0 {
			if f.Size != 0 {
				return bad(f, -1, 0, "size %d but no chunks", f.Size)
			}
			pl.i++
			return nil
		}
		pl.f, pl.j, pl.sum = f, 0, 0
	}
	f, j := pl.f, pl.j
	c := &f.Chunks[j]
	if c.Size < 0 || c.Length < 0 || c.Offset < 0 {
		return bad(f, j, c.Offset, "negative size, length or offset")
	}
	if c.Digest != "" {
		if err := c.Digest.Validate(); err != nil {
			return bad(f, j, c.Offset, "chunk digest: %v", err)
		}
	}
	pl.sum += c.Size
	if isData(c) {
		if c.Length == 0 {
			return bad(f, j, c.Offset, "%d bytes from an empty range", c.Size)
		}
		if err := pl.data(f, j, c); err != nil {
			return err
		}
	}
	pl.j++
	if pl.j == len(f.Chunks) {
		if pl.sum != f.Size {
			return bad(f, -1, 0, "chunk sizes sum to %d, file size is %d", pl.sum, f.Size)
		}
		pl.f = nil
		pl.i++
	}
	return nil
}

func bad(f *File, chunk int, off int64, format string, args ...any) error {
	return &FileError{File: f.Name, Chunk: chunk, Offset: off,
		Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalidInput}, args...)...)}
}

// data takes data chunk j of f: the previous one's range is now final.
func (pl *planner) data(f *File, j int, c *Chunk) error {
	at := pos{file: int32(pl.i), chunk: int32(j)}
	if pl.havePrev {
		p := pl.prev
		if p.off > c.Offset {
			return bad(f, j, c.Offset, "chunks are not in ascending blob order (previous data chunk at %d)", p.off)
		}
		// The bytes a chunk really needs end where the next chunk's
		// frames begin.
		end, clamped := p.end, false
		if c.Offset < end {
			end, clamped = c.Offset, true
		}
		if end <= p.off {
			return &FileError{File: pl.prevName, Chunk: int(pl.prevAt.chunk), Offset: p.off,
				Err: fmt.Errorf("%w: chunk starts where the next data chunk starts", ErrInvalidInput)}
		}
		pl.add(p.off, end, pl.prevAt, clamped)
	}
	pl.prev.off, pl.prev.end = c.Offset, c.Offset+c.Length
	pl.prevAt, pl.prevName, pl.havePrev = at, f.Name, true
	return nil
}

// add appends the final range [start,end) of the data chunk at at to the
// window, merging it into the last atom when the gap is small, and closes
// the window first when it is full.
func (pl *planner) add(start, end int64, at pos, clamped bool) {
	w := pl.cur
	n := len(w.atoms)
	newAtom := n == 0 || start-w.atoms[n-1].end > pl.o.AutoMergeGap ||
		// MinCalls: cut at file starts into pieces of minCallBytes, for
		// split to spread over the calls.
		pl.o.MinCalls > 1 && at.chunk == 0 && w.atoms[n-1].end-w.atoms[n-1].start >= minCallBytes
	if newAtom && n >= windowAtoms || len(w.clamps) >= windowClamps {
		pl.closeWindow(at)
		w, n, newAtom = pl.cur, 0, true
	}
	if clamped {
		w.clamps = append(w.clamps, clamp{at: at, end: end})
	}
	if newAtom {
		w.atoms = append(w.atoms, span{start: start, end: end, first: at, a0: int32(n), a1: int32(n + 1)})
		return
	}
	last := &w.atoms[n-1]
	last.end = max(last.end, end)
}

// closeWindow ends the current window at step end, plans its calls and
// starts the next window there.
func (pl *planner) closeWindow(end pos) {
	w := pl.cur
	w.end = end
	w.atoms = slices.Clip(w.atoms)
	w.clamps = slices.Clip(w.clamps)
	w.requests = w.split(0, len(w.atoms), w.start, w.end, pl.o.MaxRangesPerRequest, pl.o.RequestCost, pl.o.MinCalls)
	pl.out = append(pl.out, w)
	pl.cur = &window{start: end}
}

// clampsFrom returns the index of the first clamp at or after step s.
func (w *window) clampsFrom(s pos) int {
	return sort.Search(len(w.clamps), func(k int) bool { return !w.clamps[k].at.less(s) })
}

// split plans atoms [a0,a1) of w, which produce steps [s0,s1), as calls of
// at most maxRanges ranges (see the rule at the top of this file).
func (w *window) split(a0, a1 int, s0, s1 pos, maxRanges int, requestCost int64, minCalls int) []request {
	if a0 == a1 {
		return []request{{w: w, s0: s0, s1: s1, a0: a0, a1: a1}}
	}
	spans := mergeGaps(w.atoms[a0:a1], maxRanges, requestCost)
	n := len(spans)
	calls := max((n+maxRanges-1)/maxRanges, min(n, minCalls))
	reqs := make([]request, calls)
	lo := 0
	for r := range reqs {
		// Spread the spans evenly so concurrent calls carry similar loads.
		hi := lo + (n-lo)/(calls-r)
		if (n-lo)%(calls-r) != 0 {
			hi++
		}
		rq := &reqs[r]
		rq.w = w
		rq.spans = spans[lo:hi:hi]
		rq.a0, rq.a1 = int(spans[lo].a0), int(spans[hi-1].a1)
		rq.s0 = spans[lo].first
		if r == 0 {
			rq.s0 = s0
		}
		if r > 0 {
			reqs[r-1].s1 = rq.s0
		}
		lo = hi
	}
	reqs[calls-1].s1 = s1
	return reqs
}

// requestCostCap keeps RequestCost × calls far from overflowing.
const requestCostCap = 1 << 40

// mergeGaps merges the gaps between atoms chosen by the cost rule.
func mergeGaps(atoms []span, maxRanges int, requestCost int64) []span {
	n := len(atoms)
	m := 0
	var order []int32
	if n > maxRanges {
		order = make([]int32, n-1)
		for i := range order {
			order[i] = int32(i + 1) // gap before atoms[i+1]
		}
		gap := func(i int32) int64 { return atoms[i].start - atoms[i-1].end }
		slices.SortStableFunc(order, func(x, y int32) int {
			gx, gy := gap(x), gap(y)
			switch {
			case gx < gy:
				return -1
			case gx > gy:
				return 1
			}
			return 0
		})
		if requestCost < 0 {
			m = n - maxRanges
		} else {
			rc := min(requestCost, requestCostCap)
			calls := func(m int) int64 { return int64((n - m + maxRanges - 1) / maxRanges) }
			best := rc * calls(0)
			var prefix int64
			next := n - (n-1)/maxRanges*maxRanges // smallest m leaving a multiple of maxRanges
			for i := 0; i < n-1; i++ {
				prefix += gap(order[i])
				if i+1 == next {
					if c := prefix + rc*calls(i+1); c < best {
						best, m = c, i+1
					}
					next += maxRanges
				}
			}
		}
	}
	if m == 0 {
		return atoms[:n:n] // nothing merged: the spans are the atoms
	}
	merged := make([]bool, n)
	for _, i := range order[:m] {
		merged[i] = true
	}
	out := make([]span, 0, n-m)
	for i := range atoms {
		if merged[i] {
			last := &out[len(out)-1]
			last.end, last.a1 = atoms[i].end, atoms[i].a1
			continue
		}
		out = append(out, atoms[i])
	}
	return out
}
