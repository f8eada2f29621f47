package fetch

import (
	"errors"
	"fmt"
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

// planCost sums what a plan fetches and how many calls it makes.
func planCost(p *plan) (bytes int64, calls, ranges int) {
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

func mustPlan(t testing.TB, files []File, o Options) *plan {
	t.Helper()
	p, err := newPlan(List(files), o.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, p)
	return p
}

// checkPlan checks the invariants every plan must have: sorted,
// non-overlapping spans covering every net chunk exactly once, requests
// covering every step exactly once in order, within the cap.
func checkPlan(t testing.TB, p *plan) {
	t.Helper()
	nextStep, nextNet := 0, int32(0)
	var prevEnd int64 = -1
	for ri, r := range p.requests {
		if r.s0 != nextStep || r.s1 < r.s0 {
			t.Fatalf("request %d steps [%d,%d), want start %d", ri, r.s0, r.s1, nextStep)
		}
		nextStep = r.s1
		for _, s := range r.spans {
			if s.start <= prevEnd && prevEnd >= 0 && s.start < prevEnd {
				t.Fatalf("request %d: span [%d,%d) overlaps previous end %d", ri, s.start, s.end, prevEnd)
			}
			if s.end <= s.start {
				t.Fatalf("empty span %+v", s)
			}
			if s.c0 != nextNet {
				t.Fatalf("span covers chunks from %d, want %d", s.c0, nextNet)
			}
			for k := s.c0; k < s.c1; k++ {
				c := p.net[k]
				if c.off < s.start || c.end > s.end {
					t.Fatalf("chunk [%d,%d) outside span [%d,%d)", c.off, c.end, s.start, s.end)
				}
				if st := int(c.step); st < r.s0 || st >= r.s1 {
					t.Fatalf("chunk step %d outside request steps [%d,%d)", st, r.s0, r.s1)
				}
			}
			nextNet = s.c1
			prevEnd = s.end
		}
	}
	if nextStep != len(p.steps) || int(nextNet) != len(p.net) {
		t.Fatalf("plan covers %d/%d steps, %d/%d chunks", nextStep, len(p.steps), nextNet, len(p.net))
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
	if p.net[0].end != 300 || p.net[1].end != 5300 {
		t.Fatalf("clamped %+v", p.net)
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
	if len(p.net) != 2 || len(p.steps) != 6 || len(p.requests) != 1 || len(p.requests[0].spans) != 2 {
		t.Fatalf("net %d steps %d requests %+v", len(p.net), len(p.steps), p.requests)
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
		_, err := newPlan(List(files), Options{}.withDefaults())
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
		if _, err := newPlan(List(files), o); err != nil {
			b.Fatal(err)
		}
	}
}
