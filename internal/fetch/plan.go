package fetch

import (
	"fmt"
	"slices"
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

// step is one unit of file output, in file order: a chunk, or a file with no
// chunks at all.
type step struct {
	file  int32
	chunk int32 // -1: a file without chunks
	net   int32 // index into plan.net; -1 when nothing is fetched
}

// netChunk is the compressed range of a data chunk, clamped so that it does
// not run into the next data chunk (TOC ranges may include trailing frames).
type netChunk struct {
	off, end int64
	step     int32
}

// span is a byte range of the blob covering net chunks [c0,c1) and atoms
// [a0,a1) (an atom covers itself).
type span struct {
	start, end int64
	c0, c1     int32
	a0, a1     int32
}

// request is one GetBlobAt call: it produces steps [s0,s1) and fetches
// atoms [a0,a1) merged into spans.
type request struct {
	s0, s1 int
	a0, a1 int
	spans  []span
}

type plan struct {
	steps    []step
	net      []netChunk
	atoms    []span
	requests []request
	minCalls int
}

// minCallBytes: below this a split costs more in coordination than a
// second worker saves.
const minCallBytes = 4 << 20

// cutAtoms cuts atoms at file boundaries into about n pieces of equal
// bytes, so that split can spread them over n calls.
func (p *plan) cutAtoms(n int) []span {
	var total int64
	for _, a := range p.atoms {
		total += a.end - a.start
	}
	if total < int64(n)*minCallBytes {
		return p.atoms
	}
	target := total / int64(n)
	var out []span
	for _, a := range p.atoms {
		cur := a
		for k := a.c0 + 1; k < a.c1; k++ {
			nc := &p.net[k]
			if p.steps[nc.step].chunk > 0 || nc.off-cur.start < target {
				continue // never split a file, nor make a small piece
			}
			piece := cur
			piece.end, piece.c1 = nc.off, k
			out = append(out, piece)
			cur.start, cur.c0 = nc.off, k
		}
		out = append(out, cur)
	}
	for i := range out {
		out[i].a0, out[i].a1 = int32(i), int32(i+1)
	}
	return out
}

// newPlan validates files and plans the calls.
func newPlan(files Files, o Options) (*plan, error) {
	n := files.Len()
	p := &plan{steps: make([]step, 0, n), net: make([]netChunk, 0, n)} // about one chunk a file
	for i := range n {
		f, err := files.File(i)
		if err != nil {
			return nil, fmt.Errorf("fetch: reading file %d of the list: %w", i, err)
		}
		if err := p.addFile(f, i); err != nil {
			return nil, err
		}
	}
	// Clamp each range to the next one's start: the bytes a chunk really
	// needs end where the next chunk's frames begin.
	for k := 0; k+1 < len(p.net); k++ {
		if p.net[k+1].off < p.net[k].end {
			p.net[k].end = p.net[k+1].off
		}
		if p.net[k].end <= p.net[k].off {
			s := p.steps[p.net[k].step]
			f, err := files.File(int(s.file))
			if err != nil {
				return nil, fmt.Errorf("fetch: reading file %d of the list: %w", s.file, err)
			}
			return nil, &FileError{File: f.Name, Chunk: int(s.chunk), Offset: f.Chunks[s.chunk].Offset,
				Err: fmt.Errorf("%w: chunk starts where the next data chunk starts", ErrInvalidInput)}
		}
	}
	p.atoms = atomize(p.net, o.AutoMergeGap)
	if o.MinCalls > 1 {
		p.atoms = p.cutAtoms(o.MinCalls)
	}
	p.minCalls = o.MinCalls
	p.requests = p.split(0, len(p.atoms), 0, len(p.steps), o.MaxRangesPerRequest, o.RequestCost)
	return p, nil
}

func (p *plan) addFile(f *File, i int) error {
	bad := func(chunk int, off int64, format string, args ...any) error {
		return &FileError{File: f.Name, Chunk: chunk, Offset: off,
			Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalidInput}, args...)...)}
	}
	if f.Digest != "" {
		if err := f.Digest.Validate(); err != nil {
			return bad(-1, 0, "file digest: %v", err)
		}
	}
	if len(f.Chunks) == 0 {
		if f.Size != 0 {
			return bad(-1, 0, "size %d but no chunks", f.Size)
		}
		p.steps = append(p.steps, step{file: int32(i), chunk: -1, net: -1})
		return nil
	}
	var sum int64
	for j := range f.Chunks {
		c := &f.Chunks[j]
		if c.Size < 0 || c.Length < 0 || c.Offset < 0 {
			return bad(j, c.Offset, "negative size, length or offset")
		}
		if c.Digest != "" {
			if err := c.Digest.Validate(); err != nil {
				return bad(j, c.Offset, "chunk digest: %v", err)
			}
		}
		sum += c.Size
		s := step{file: int32(i), chunk: int32(j), net: -1}
		if !c.Zeros && c.Local == nil && c.Size > 0 {
			if c.Length == 0 {
				return bad(j, c.Offset, "%d bytes from an empty range", c.Size)
			}
			if n := len(p.net); n > 0 && p.net[n-1].off > c.Offset {
				return bad(j, c.Offset, "chunks are not in ascending blob order (previous data chunk at %d)", p.net[n-1].off)
			}
			s.net = int32(len(p.net))
			p.net = append(p.net, netChunk{off: c.Offset, end: c.Offset + c.Length, step: int32(len(p.steps))})
		}
		p.steps = append(p.steps, s)
	}
	if sum != f.Size {
		return bad(-1, 0, "chunk sizes sum to %d, file size is %d", sum, f.Size)
	}
	return nil
}

// atomize merges net chunks whose gap is at most gap into spans.
func atomize(net []netChunk, gap int64) []span {
	var atoms []span
	for k := range net {
		c := &net[k]
		if n := len(atoms); n > 0 && c.off-atoms[n-1].end <= gap {
			atoms[n-1].end = max(atoms[n-1].end, c.end)
			atoms[n-1].c1 = int32(k + 1)
			continue
		}
		a := int32(len(atoms))
		atoms = append(atoms, span{start: c.off, end: c.end, c0: int32(k), c1: int32(k + 1), a0: a, a1: a + 1})
	}
	return atoms
}

// split plans atoms [a0,a1), which produce steps [s0,s1), as calls of at
// most maxRanges ranges (see the rule at the top of this file).
func (p *plan) split(a0, a1, s0, s1, maxRanges int, requestCost int64) []request {
	if a0 == a1 {
		return []request{{s0: s0, s1: s1, a0: a0, a1: a1}}
	}
	spans := mergeGaps(p.atoms[a0:a1], maxRanges, requestCost)
	n := len(spans)
	calls := max((n+maxRanges-1)/maxRanges, min(n, p.minCalls))
	reqs := make([]request, calls)
	lo := 0
	for r := range reqs {
		// Spread the spans evenly so concurrent calls carry similar loads.
		hi := lo + (n-lo)/(calls-r)
		if (n-lo)%(calls-r) != 0 {
			hi++
		}
		rq := &reqs[r]
		rq.spans = spans[lo:hi:hi]
		rq.a0, rq.a1 = int(spans[lo].a0), int(spans[hi-1].a1)
		rq.s0 = int(p.net[spans[lo].c0].step)
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
	merged := make([]bool, n)
	for _, i := range order[:m] {
		merged[i] = true
	}
	out := make([]span, 0, n-m)
	for i := range atoms {
		if merged[i] {
			last := &out[len(out)-1]
			last.end, last.c1, last.a1 = atoms[i].end, atoms[i].c1, atoms[i].a1
			continue
		}
		out = append(out, atoms[i])
	}
	return out
}
