package report

import (
	"math"
	"sort"
)

// Median returns the median of xs (the mean of the middle two for an even
// count), NaN for none. The median, not the mean, so one run disturbed by
// the machine does not move the result.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Ratio is ours/upstream; NaN when upstream is zero (nothing to compare to)
// unless both are zero, which is a tie.
func Ratio(ours, upstream float64) float64 {
	if upstream == 0 {
		if ours == 0 {
			return 1
		}
		return math.NaN()
	}
	return ours / upstream
}

// Metric is one row of the comparison.
type Metric struct {
	Name   string
	Unit   string  // "" for counts (no decimals)
	Target float64 // a ratio ours/upstream the row must not exceed; 0 for none
	// OursMax is a ceiling on ours' own median (e.g. bytes fetched over
	// the lower bound); 0 for none.
	OursMax float64
	Get     func(Result) float64
}

var (
	wall    = Metric{Name: "wall time", Unit: "s", Get: func(r Result) float64 { return r.WallS }}
	cpu     = Metric{Name: "CPU (user+sys)", Unit: "s", Get: Result.CPUS}
	rss     = Metric{Name: "peak RSS", Unit: "MiB", Get: func(r Result) float64 { return float64(r.MaxRSSKiB) / 1024 }}
	fetched = Metric{Name: "bytes fetched", Unit: "MiB", Get: func(r Result) float64 { return mib(r.BytesFetched) }}
	reqs    = Metric{Name: "requests", Get: func(r Result) float64 { return float64(r.Requests) }}
	ranges  = Metric{Name: "ranges", Get: func(r Result) float64 { return float64(r.Ranges) }}
	files   = Metric{Name: "files in layer", Get: func(r Result) float64 { return float64(r.LayerFiles) }}
)

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func withTarget(m Metric, target float64) Metric {
	m.Target = target
	return m
}

// Metrics are the rows of the cold-pull table, in order: wall and peak RSS
// at most 0.8× upstream's.
var Metrics = []Metric{withTarget(wall, 0.8), cpu, withTarget(rss, 0.8), fetched, reqs, ranges, files}

// ConvertMetrics are the rows for convert_images pulls: wall, CPU and peak
// RSS at most 0.8× upstream's.
var ConvertMetrics = []Metric{withTarget(wall, 0.8), withTarget(cpu, 0.8), withTarget(rss, 0.8), fetched, reqs, ranges, files}

// UpdateMetrics are the rows for pulling an update on top of its base:
// ours fetches at most 1.1× the lower bound (lowerBound bytes, the same for
// both sides: it is a property of store and layer), in no more requests
// and no more wall time than upstream. tocBytes, what NewDiffer fetched
// before ApplyDiff (the same for both), gives a second ratio without it.
func UpdateMetrics(lowerBound, tocBytes int64) []Metric {
	lb := float64(lowerBound)
	over := func(r Result) float64 { return float64(r.BytesFetched) / lb }
	overNoTOC := func(r Result) float64 { return float64(r.BytesFetched-tocBytes) / lb }
	return []Metric{
		withTarget(wall, 1), cpu, rss, fetched,
		{Name: "bytes fetched / lower bound", Unit: "×", OursMax: 1.1, Get: over},
		{Name: "bytes fetched without the TOC / lower bound", Unit: "×", Get: overNoTOC},
		withTarget(reqs, 1), ranges, files,
	}
}

// Row is a summarised metric.
type Row struct {
	Metric
	Ours, Upstream []float64 // per run, in run order
	OursMed, UpMed float64
	Ratio          float64
}

// Met reports whether the row meets its target (true if it has none).
func (r Row) Met() bool {
	ratioOK := r.Target == 0 || (!math.IsNaN(r.Ratio) && r.Ratio <= r.Target)
	oursOK := r.OursMax == 0 || (!math.IsNaN(r.OursMed) && r.OursMed <= r.OursMax)
	return ratioOK && oursOK
}

// LowerBound is the lower bound our differ reported, the same in every run
// of ours unless the store differed (ok false, the median returned).
func LowerBound(ours []Result) (lb int64, ok bool) {
	var xs []float64
	for _, r := range ours {
		if r.Reuse == nil {
			return 0, false
		}
		xs = append(xs, float64(r.Reuse.LowerBound))
	}
	if len(xs) == 0 {
		return 0, false
	}
	ok = true
	for _, x := range xs {
		ok = ok && x == xs[0]
	}
	return int64(Median(xs)), ok
}

// Summarize computes every metric's medians and ratio.
func Summarize(ours, upstream []Result) []Row { return SummarizeWith(Metrics, ours, upstream) }

// SummarizeWith computes the given metrics' medians and ratios.
func SummarizeWith(metrics []Metric, ours, upstream []Result) []Row {
	rows := make([]Row, 0, len(metrics))
	for _, m := range metrics {
		r := Row{Metric: m}
		for _, x := range ours {
			r.Ours = append(r.Ours, m.Get(x))
		}
		for _, x := range upstream {
			r.Upstream = append(r.Upstream, m.Get(x))
		}
		r.OursMed, r.UpMed = Median(r.Ours), Median(r.Upstream)
		r.Ratio = Ratio(r.OursMed, r.UpMed)
		rows = append(rows, r)
	}
	return rows
}

// Consistent returns the DiffIDs seen across all runs, and whether there
// was exactly one: both differs must produce the same layer.
func Consistent(results ...[]Result) ([]string, bool) {
	seen := map[string]bool{}
	var ids []string
	for _, rs := range results {
		for _, r := range rs {
			if !seen[r.DiffID] {
				seen[r.DiffID] = true
				ids = append(ids, r.DiffID)
			}
		}
	}
	return ids, len(ids) == 1 && ids[0] != ""
}
