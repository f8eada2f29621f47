package fetch

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// layout builds one single-chunk file per (offset, length) pair.
func layout(ranges ...[2]int64) []File {
	files := make([]File, len(ranges))
	for i, r := range ranges {
		files[i] = File{Name: fmt.Sprint("f", i), Size: 1, Chunks: []Chunk{{Offset: r[0], Length: r[1], Size: 1}}}
	}
	return files
}

// spread lays out n ranges of size bytes, each followed by gap(i) bytes.
func spread(n int, size int64, gap func(i int) int64) []File {
	rs := make([][2]int64, n)
	var off int64
	for i := range rs {
		rs[i] = [2]int64{off, size}
		off += size + gap(i)
	}
	return layout(rs...)
}

// testPlan is every window of a plan, kept (Fetch drops each once fetched).
type testPlan struct {
	windows  []*window
	requests []*request
}

// planAll runs the planner to the end.
func planAll(files Files, o Options) (*testPlan, error) {
	pl := newPlanner(context.Background(), files, o)
	p := &testPlan{}
	for {
		w, err := pl.next()
		if err != nil {
			return nil, err
		}
		if w == nil {
			return p, nil
		}
		p.windows = append(p.windows, w)
		for k := range w.requests {
			p.requests = append(p.requests, &w.requests[k])
		}
	}
}

// planCost sums what a plan fetches and how many calls it makes.
func planCost(p *testPlan) (bytes int64, calls, ranges int) {
	for _, r := range p.requests {
		if len(r.spans) > 0 {
			calls++
		}
		ranges += len(r.spans)
		for _, s := range r.spans {
			bytes += s.end - s.start
		}
	}
	return
}

func mustPlan(t testing.TB, files []File, o Options) *testPlan {
	t.Helper()
	p, err := planAll(List(files), o.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, files, p)
	return p
}

// netRange is the range a data chunk is fetched from: its own, or clamped.
func netRange(p *testPlan, files []File, at pos) (int64, int64) {
	c := &files[at.file].Chunks[at.chunk]
	for _, w := range p.windows {
		for _, cl := range w.clamps {
			if cl.at == at {
				return c.Offset, cl.end
			}
		}
	}
	return c.Offset, c.Offset + c.Length
}

// checkPlan checks the invariants every plan must have: windows and
// requests covering every step exactly once in order; in each request,
// sorted, non-overlapping spans, each covering at least one of its data
// chunks, and every data chunk inside one; clamped ranges ending where the
// next data chunk starts; windows within their limits.
func checkPlan(t testing.TB, files []File, p *testPlan) {
	t.Helper()
	next := pos{}
	for _, w := range p.windows {
		if w.start != next {
			t.Fatalf("window starts at %v, want %v", w.start, next)
		}
		next = w.end
		if len(w.atoms) > windowAtoms || len(w.clamps) > windowClamps {
			t.Fatalf("window with %d atoms, %d clamps", len(w.atoms), len(w.clamps))
		}
	}
	if next != (pos{file: int32(len(files))}) {
		t.Fatalf("windows end at %v", next)
	}
	next = pos{}
	var prevEnd int64 = -1
	lastOff := int64(-1)
	for ri, r := range p.requests {
		if r.s0 != next || r.s1.less(r.s0) {
			t.Fatalf("request %d steps [%v,%v), want start %v", ri, r.s0, r.s1, next)
		}
		next = r.s1
		for _, s := range r.spans {
			if s.start < prevEnd {
				t.Fatalf("request %d: span [%d,%d) overlaps previous end %d", ri, s.start, s.end, prevEnd)
			}
			if s.end <= s.start {
				t.Fatalf("empty span %+v", s)
			}
			prevEnd = s.end
		}
		si, used := 0, false
		for at := r.s0; at.less(r.s1); {
			f := &files[at.file]
			if len(f.Chunks) == 0 {
				at = pos{file: at.file + 1}
				continue
			}
			if c := &f.Chunks[at.chunk]; isData(c) {
				off, end := netRange(p, files, at)
				if off <= lastOff {
					t.Fatalf("data chunk %v at %d after %d", at, off, lastOff)
				}
				lastOff = off
				for si < len(r.spans) && off >= r.spans[si].end {
					if !used {
						t.Fatalf("request %d: span %d covers no chunk", ri, si)
					}
					si, used = si+1, false
				}
				if si == len(r.spans) || off < r.spans[si].start || end > r.spans[si].end {
					t.Fatalf("request %d: chunk %v [%d,%d) outside its span", ri, at, off, end)
				}
				used = true
			}
			if int(at.chunk)+1 >= len(f.Chunks) {
				at = pos{file: at.file + 1}
			} else {
				at.chunk++
			}
		}
		if len(r.spans) > 0 && (si != len(r.spans)-1 || !used) {
			t.Fatalf("request %d: %d spans, chunks in %d", ri, len(r.spans), si+1)
		}
	}
	if next != (pos{file: int32(len(files))}) {
		t.Fatalf("plan covers steps up to %v of %d files", next, len(files))
	}
}

func TestPlanAutoMerge(t *testing.T) {
	// Gaps: 0, 1024 (merged), 1025 (kept).
	files := layout([2]int64{0, 100}, [2]int64{100, 100}, [2]int64{1224, 100}, [2]int64{2349, 100})
	p := mustPlan(t, files, Options{})
	if len(p.requests) != 1 || len(p.requests[0].spans) != 2 {
		t.Fatalf("requests %+v", p.requests)
	}
	if s := p.requests[0].spans; s[0].start != 0 || s[0].end != 1324 || s[1].start != 2349 || s[1].end != 2449 {
		t.Fatalf("spans %+v", s)
	}
	p = mustPlan(t, files, Options{AutoMergeGap: -1})
	if n := len(p.requests[0].spans); n != 3 {
		t.Fatalf("AutoMergeGap -1: %d spans, want 3", n)
	}
}

// TestPlanOverlap: a range that includes trailing frames reaching into
// the next chunk is clamped to it, so ranges never overlap.
func TestPlanOverlap(t *testing.T) {
	files := layout([2]int64{0, 500}, [2]int64{300, 5000}, [2]int64{10000, 50})
	p := mustPlan(t, files, Options{AutoMergeGap: -1})
	// Only the first range runs into the next one; the others keep theirs.
	if cl := p.windows[0].clamps; fmt.Sprint(cl) != "[{{0 0} 300}]" {
		t.Fatalf("clamped %+v", cl)
	}
	if s := p.requests[0].spans; len(s) != 2 || s[0].end != 5300 {
		t.Fatalf("spans %+v", s)
	}
}

func TestPlanCap(t *testing.T) {
	files := spread(5000, 100, func(int) int64 { return 1 << 20 })
	for _, maxR := range []int{1, 7, 1024, 5000} {
		p := mustPlan(t, files, Options{MaxRangesPerRequest: maxR})
		_, calls, ranges := planCost(p)
		if ranges != 5000 || calls != (5000+maxR-1)/maxR {
			t.Errorf("cap %d: %d calls, %d ranges", maxR, calls, ranges)
		}
		for _, r := range p.requests {
			if len(r.spans) > maxR {
				t.Errorf("cap %d: request with %d ranges", maxR, len(r.spans))
			}
		}
	}
	// Upstream's rule: one call of exactly the cap.
	p := mustPlan(t, files, Options{MaxRangesPerRequest: 1024, RequestCost: -1})
	if _, calls, ranges := planCost(p); calls != 1 || ranges != 1024 {
		t.Errorf("upstream rule: %d calls, %d ranges", calls, ranges)
	}
}

// TestPlanPathological compares the cost rule with upstream's on layouts
// where the missing files are spread thinly over a big blob.
func TestPlanPathological(t *testing.T) {
	cases := []struct {
		name       string
		files      []File
		wantCalls  int
		maxWasteMB int64
	}{
		// 2048 × 4 KiB spaced 1 MiB apart: upstream merges 1024 gaps of
		// 1 MiB into one call.
		{"sparse", spread(2048, 4096, func(int) int64 { return 1 << 20 }), 2, 0},
		// Every other gap 2 KiB: one call would cost 1024 × 2 KiB = 2 MiB
		// of gaps, more than the 1 MiB a second call is worth.
		{"mixed", spread(2048, 4096, func(i int) int64 {
			if i%2 == 0 {
				return 2048
			}
			return 1 << 20
		}), 2, 0},
		// 1100-byte gaps: 1024 of them (1.1 MiB) — still above 1 MiB.
		{"gaps 1100", spread(2048, 4096, func(int) int64 { return 1100 }), 2, 0},
		// 1000-byte gaps are under AutoMergeGap: always merged, one call.
		{"dense", spread(2048, 4096, func(int) int64 { return 1000 }), 1, 2},
		// 1 MiB gaps but only 3000 ranges (3 calls): merging to two calls
		// would cost 976 MiB.
		{"wide", spread(3000, 100, func(int) int64 { return 1 << 20 }), 3, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var need int64
			for _, f := range c.files {
				need += f.Chunks[0].Length
			}
			up := mustPlan(t, c.files, Options{RequestCost: -1})
			upBytes, upCalls, upRanges := planCost(up)
			p := mustPlan(t, c.files, Options{})
			bytes, calls, ranges := planCost(p)
			t.Logf("needed %d KiB; upstream rule: %d calls, %d ranges, %d KiB; cost rule: %d calls, %d ranges, %d KiB",
				need>>10, upCalls, upRanges, upBytes>>10, calls, ranges, bytes>>10)
			if calls != c.wantCalls {
				t.Errorf("%d calls, want %d", calls, c.wantCalls)
			}
			if waste := bytes - need; waste > c.maxWasteMB<<20 {
				t.Errorf("wasted %d bytes", waste)
			}
			if bytes > upBytes {
				t.Errorf("cost rule fetches more than upstream's")
			}
		})
	}
}

// TestPlanCostRule checks the rule's threshold: with 20 ranges and a cap
// of 10, saving the second call takes 10 merges, worth it iff 10·gap <
// RequestCost (a tie keeps the bytes down).
func TestPlanCostRule(t *testing.T) {
	for _, c := range []struct {
		gap, cost int64
		calls     int
	}{{1000, 10000, 2}, {1000, 10001, 1}, {10, 1 << 20, 1}, {1 << 20, 1 << 20, 2}} {
		files := spread(20, 10, func(int) int64 { return c.gap })
		p := mustPlan(t, files, Options{MaxRangesPerRequest: 10, AutoMergeGap: -1, RequestCost: c.cost})
		if _, calls, _ := planCost(p); calls != c.calls {
			t.Errorf("gap %d, cost %d: %d calls, want %d", c.gap, c.cost, calls, c.calls)
		}
	}
}

func TestPlanSingleRangeCalls(t *testing.T) {
	// With one range per call (a server refusing multi-range requests), a
	// gap is merged iff it is smaller than RequestCost.
	files := spread(6, 10, func(i int) int64 { return []int64{5000, 100, 7000, 200, 9000, 0}[i] })
	p := mustPlan(t, files, Options{MaxRangesPerRequest: 1, AutoMergeGap: -1, RequestCost: 6000})
	var got []int64
	for _, r := range p.requests {
		got = append(got, r.spans[0].end-r.spans[0].start)
	}
	// merged: 5000, 100 → [f0..f2]; 7000 kept; 200 merged; 9000 kept.
	want := []int64{10 + 5000 + 10 + 100 + 10, 10 + 200 + 10, 10}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("span lengths %v, want %v", got, want)
	}
}

func TestPlanSplitEvenly(t *testing.T) {
	files := spread(2100, 100, func(int) int64 { return 1 << 20 })
	p := mustPlan(t, files, Options{})
	var sizes []int
	for _, r := range p.requests {
		sizes = append(sizes, len(r.spans))
	}
	if fmt.Sprint(sizes) != "[700 700 700]" {
		t.Errorf("split %v", sizes)
	}
}

func TestPlanZerosAndEmpty(t *testing.T) {
	files := []File{
		{Name: "empty"},
		{Name: "zeros", Size: 10, Chunks: []Chunk{{Offset: 0, Length: 5, Size: 10, Zeros: true}}},
		{Name: "mixed", Size: 30, Chunks: []Chunk{
			{Offset: 100, Length: 10, Size: 10},
			{Offset: 110, Length: 5, Size: 10, Zeros: true},
			{Offset: 5000, Length: 10, Size: 10},
		}},
		{Name: "tail", Size: 3, Chunks: []Chunk{{Offset: 20000, Length: 2, Size: 3, Zeros: true}}},
	}
	p := mustPlan(t, files, Options{})
	if len(p.requests) != 1 || len(p.requests[0].spans) != 2 {
		t.Fatalf("requests %+v", p.requests)
	}
	// Nothing to fetch at all: one local "call".
	p = mustPlan(t, files[:2], Options{})
	if len(p.requests) != 1 || len(p.requests[0].spans) != 0 {
		t.Fatalf("requests %+v", p.requests)
	}
}

func TestPlanInvalid(t *testing.T) {
	good := digest.FromString("x")
	cases := map[string][]File{
		"size sum":     {{Name: "a", Size: 5, Chunks: []Chunk{{Offset: 0, Length: 3, Size: 4}}}},
		"no chunks":    {{Name: "a", Size: 5}},
		"unordered":    layout([2]int64{100, 10}, [2]int64{0, 10}),
		"same offset":  layout([2]int64{100, 10}, [2]int64{100, 10}),
		"empty range":  {{Name: "a", Size: 5, Chunks: []Chunk{{Offset: 0, Length: 0, Size: 5}}}},
		"negative":     {{Name: "a", Size: -1, Chunks: []Chunk{{Offset: 0, Length: 3, Size: -1}}}},
		"file digest":  {{Name: "a", Digest: "sha256:nothex"}},
		"chunk digest": {{Name: "a", Size: 1, Digest: good, Chunks: []Chunk{{Length: 1, Size: 1, Digest: "md5:00"}}}},
	}
	for name, files := range cases {
		_, err := planAll(List(files), Options{}.withDefaults())
		var fe *FileError
		if !errors.Is(err, ErrInvalidInput) || !errors.As(err, &fe) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func BenchmarkPlan(b *testing.B) {
	// 100k chunks in 20k files, gaps mostly small, some big, forcing the
	// cost rule to sort and scan.
	files := make([]File, 20000)
	var off int64
	for i := range files {
		f := &files[i]
		f.Name = fmt.Sprint(i)
		for j := 0; j < 5; j++ {
			f.Chunks = append(f.Chunks, Chunk{Offset: off, Length: 3000, Size: 8000})
			f.Size += 8000
			off += 3000
		}
		off += int64(i%7) * 1000 // gaps 0..6000
	}
	o := Options{}.withDefaults()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := planAll(List(files), o); err != nil {
			b.Fatal(err)
		}
	}
}

// synthFiles is n one-chunk files of 100 bytes each followed by gap bytes,
// made on demand like the differ's list (nothing per file is kept).
type synthFiles struct {
	n   int
	gap int64
}

func (s synthFiles) Len() int { return s.n }

func (s synthFiles) File(i int) (*File, error) {
	off := int64(i) * (100 + s.gap)
	return &File{Name: "f", Size: 100, Chunks: []Chunk{{Offset: off, Length: 100, Size: 100}}}, nil
}

// planPeak plans files with the real window limits and returns the most
// heap in use (after a GC) while a window is handed out, which is when the
// planner holds the most: the window just closed and the next one begun.
func planPeak(t *testing.T, files Files) (peak uint64, windows int) {
	t.Helper()
	var ms runtime.MemStats
	pl := newPlanner(context.Background(), files, Options{}.withDefaults())
	for {
		w, err := pl.next()
		if err != nil {
			t.Fatal(err)
		}
		if w == nil {
			break
		}
		windows++
		runtime.GC()
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
		runtime.KeepAlive(w)
	}
	runtime.KeepAlive(pl)
	return peak, windows
}

// TestPlanMemoryFlat fails if what the planner keeps grows with the number
// of files: 16× the files (sparse: every file its own range, the most
// atoms; dense: one range for everything) must not need 1 MiB more heap.
// The plan over the whole layer this replaced kept about 70 bytes per
// fetched file here (20 MiB more at 320k files).
func TestPlanMemoryFlat(t *testing.T) {
	for _, gap := range []int64{2000, 0} {
		small, ws := planPeak(t, synthFiles{n: 20000, gap: gap})
		big, wb := planPeak(t, synthFiles{n: 320000, gap: gap})
		t.Logf("gap %d: 20k files: %d KiB in use, %d windows; 320k files: %d KiB, %d windows",
			gap, small>>10, ws, big>>10, wb)
		if big > small+1<<20 {
			t.Errorf("gap %d: planning 320k files holds %d KiB, 20k files %d KiB", gap, big>>10, small>>10)
		}
	}
}

// TestPlanWindows plans layouts with small windows and as a whole: the
// windowed plans keep every invariant, and cost at most one call's worth
// (RequestCost) more per window boundary by the rule's own measure.
func TestPlanWindows(t *testing.T) {
	layouts := map[string][]File{
		"sparse": spread(5000, 100, func(int) int64 { return 1 << 20 }),
		"mixed": spread(5000, 4096, func(i int) int64 {
			return []int64{0, 2048, 1 << 20, 100, 1500, 3000}[i%6]
		}),
		"dense":      spread(5000, 4096, func(int) int64 { return 0 }),
		"small gaps": spread(5000, 4096, func(i int) int64 { return int64(1025 + i%500) }),
	}
	layouts["random"] = randomLayout(3, 3000)
	for name, files := range layouts {
		for _, o := range []Options{{}, {MaxRangesPerRequest: 100}, {MaxRangesPerRequest: 1, RequestCost: 50000}, {RequestCost: -1}} {
			o = o.withDefaults()
			whole := mustPlan(t, files, o)
			wb, wc, _ := planCost(whole)
			restore := SetWindow(300, 40)
			p := mustPlan(t, files, o)
			restore()
			b, c, _ := planCost(p)
			rc := max(o.RequestCost, 0)
			// Per boundary at most one call more, plus one more for every
			// maxRanges boundaries (a merged gap cut there adds a range).
			b0 := int64(len(p.windows) - 1)
			boundaries := b0 + (b0+int64(o.MaxRangesPerRequest)-1)/int64(o.MaxRangesPerRequest)
			t.Logf("%s, cap %d, cost %d: whole: %d calls, %d B; %d windows: %d calls, %d B",
				name, o.MaxRangesPerRequest, o.RequestCost, wc, wb, len(p.windows), c, b)
			if o.RequestCost >= 0 && b+rc*int64(c) > wb+rc*int64(wc)+boundaries*rc {
				t.Errorf("%s, cap %d: windowed plan costs %d + %d calls, whole %d + %d calls, %d boundaries",
					name, o.MaxRangesPerRequest, b, c, wb, wc, boundaries)
			}
		}
	}
}

// randomLayout makes n files of 0-4 chunks: data chunks with random gaps
// (some ranges running into the next chunk), zero runs, empty files.
func randomLayout(seed int64, n int) []File {
	rng := rand.New(rand.NewSource(seed))
	files := make([]File, n)
	var off int64
	for i := range files {
		f := &files[i]
		f.Name = fmt.Sprint("f", i)
		for j := range rng.Intn(5) {
			size := int64(1 + rng.Intn(20000))
			c := Chunk{Offset: off, Length: size, Size: size}
			if j > 0 && rng.Intn(4) == 0 {
				c.Zeros, c.Length = true, int64(rng.Intn(30))
			} else {
				off += size
			}
			junk := int64([]int{0, rng.Intn(1000), rng.Intn(3000), rng.Intn(1 << 21)}[rng.Intn(4)])
			off += junk
			if !c.Zeros && rng.Intn(2) == 0 {
				c.Length += rng.Int63n(junk + 100)
			}
			f.Chunks = append(f.Chunks, c)
			f.Size += size
		}
	}
	return files
}
