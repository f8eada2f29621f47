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
	Unit   string
	Target float64 // a ratio the row must not exceed; 0 for none
	Get    func(Result) float64
}

// Metrics are the rows of the table, in order.
var Metrics = []Metric{
	{Name: "wall time", Unit: "s", Target: 0.8, Get: func(r Result) float64 { return r.WallS }},
	{Name: "CPU (user+sys)", Unit: "s", Get: Result.CPUS},
	{Name: "peak RSS", Unit: "MiB", Target: 0.8, Get: func(r Result) float64 { return float64(r.MaxRSSKiB) / 1024 }},
	{Name: "bytes fetched", Unit: "MiB", Get: func(r Result) float64 { return float64(r.BytesFetched) / (1 << 20) }},
	{Name: "requests", Get: func(r Result) float64 { return float64(r.Requests) }},
	{Name: "ranges", Get: func(r Result) float64 { return float64(r.Ranges) }},
	{Name: "files in layer", Get: func(r Result) float64 { return float64(r.LayerFiles) }},
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
	return r.Target == 0 || (!math.IsNaN(r.Ratio) && r.Ratio <= r.Target)
}

// Summarize computes every metric's medians and ratio.
func Summarize(ours, upstream []Result) []Row {
	rows := make([]Row, 0, len(Metrics))
	for _, m := range Metrics {
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
