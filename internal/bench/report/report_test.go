package report

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMedian(t *testing.T) {
	assert.True(t, math.IsNaN(Median(nil)))
	assert.Equal(t, 3.0, Median([]float64{3}))
	assert.Equal(t, 2.0, Median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, Median([]float64{4, 1, 3, 2}))
	xs := []float64{3, 1, 2}
	Median(xs)
	assert.Equal(t, []float64{3, 1, 2}, xs, "the input is not sorted in place")
}

func TestRatio(t *testing.T) {
	assert.Equal(t, 0.5, Ratio(1, 2))
	assert.Equal(t, 1.0, Ratio(0, 0))
	assert.True(t, math.IsNaN(Ratio(1, 0)))
}

func results(differ string, wall ...float64) []Result {
	var rs []Result
	for i, w := range wall {
		rs = append(rs, Result{Differ: differ, WallS: w, UserS: w / 2, SysS: w / 4, MaxRSSKiB: 1024 * int64(10+i),
			BytesFetched: 1 << 20, Requests: 2, Ranges: 3, DiffID: "sha256:x", LayerFiles: 7})
	}
	return rs
}

func TestSummarize(t *testing.T) {
	rows := Summarize(results("ours", 1, 3, 2), results("upstream", 4, 4, 5))
	require.Len(t, rows, len(Metrics))
	wall := rows[0]
	assert.Equal(t, "wall time", wall.Name)
	assert.Equal(t, []float64{1, 3, 2}, wall.Ours, "runs in run order")
	assert.Equal(t, 2.0, wall.OursMed)
	assert.Equal(t, 4.0, wall.UpMed)
	assert.Equal(t, 0.5, wall.Ratio)
	assert.True(t, wall.Met())
	assert.Equal(t, 1.5, rows[1].OursMed, "CPU is user+sys")
	rss := rows[2]
	assert.Equal(t, 11.0, rss.OursMed, "MiB")
	assert.Equal(t, 1.0, rss.Ratio)
	assert.False(t, rss.Met(), "1.00× misses a 0.80× target")
	assert.True(t, rows[4].Met(), "no target, nothing to miss")
}

func TestConsistent(t *testing.T) {
	ids, ok := Consistent(results("ours", 1), results("upstream", 1, 2))
	assert.True(t, ok)
	assert.Equal(t, []string{"sha256:x"}, ids)
	bad := results("upstream", 1)
	bad[0].DiffID = "sha256:y"
	ids, ok = Consistent(results("ours", 1), bad)
	assert.False(t, ok)
	assert.Equal(t, []string{"sha256:x", "sha256:y"}, ids)
	_, ok = Consistent([]Result{{}})
	assert.False(t, ok, "an empty DiffID is no DiffID")
}

func section(key string) Section {
	return Section{
		Key: key, Title: "Cold pull", Command: "go run ./bench/cmd/sidebyside", Date: "today",
		Machine: Machine{NProc: 2, CPU: "cpu", Kernel: "6.1", GoVersion: "go1.26", Fs: "ext4"},
		Layer:   "a layer", Rounds: 3, Warmup: 1,
		Rows:    Summarize(results("ours", 1, 3, 2), results("upstream", 4, 4, 5)),
		DiffIDs: []string{"sha256:x"}, DiffIDOK: true,
	}
}

func TestMarkdown(t *testing.T) {
	md := section("k").Markdown()
	assert.True(t, strings.HasPrefix(md, "<!-- sidebyside:k:begin -->\n"))
	assert.True(t, strings.HasSuffix(md, "<!-- sidebyside:k:end -->\n"))
	assert.Contains(t, md, "```sh\ngo run ./bench/cmd/sidebyside\n```")
	assert.Contains(t, md, "| wall time (s) | 2.00 | 4.00 | 0.50× | ≤ 0.80× met | 1.00, 3.00, 2.00 / 4.00, 4.00, 5.00 |")
	assert.Contains(t, md, "| peak RSS (MiB) | 11.00 | 11.00 | 1.00× | ≤ 0.80× **missed** |")
	assert.Contains(t, md, "| requests | 2 | 2 | 1.00× |  | 2, 2, 2 / 2, 2, 2 |")
	assert.Contains(t, md, "identical for every run")

	s := section("k")
	s.DiffIDOK, s.DiffIDs = false, []string{"sha256:x", "sha256:y"}
	assert.Contains(t, s.Markdown(), "**DiffID MISMATCH**: `sha256:x`, `sha256:y`")
}

func TestReplace(t *testing.T) {
	a1, a2, b := section("a").Markdown(), strings.Replace(section("a").Markdown(), "today", "tomorrow", 1), section("b").Markdown()

	doc := Replace("# Benchmarks\nintro\n", "a", a1)
	assert.Equal(t, "# Benchmarks\nintro\n\n"+a1, doc, "appended after a blank line")
	doc = Replace(doc, "b", b)
	assert.Equal(t, "# Benchmarks\nintro\n\n"+a1+"\n"+b, doc)
	doc = Replace(doc+"\ntrailer\n", "a", a2)
	assert.Equal(t, "# Benchmarks\nintro\n\n"+a2+"\n"+b+"\ntrailer\n", doc, "only a's section changes")
	assert.Equal(t, doc, Replace(doc, "a", a2), "idempotent")
	assert.Equal(t, a1, Replace("", "a", a1))
}

func TestUpdateMetrics(t *testing.T) {
	ours := results("ours", 1, 1, 1)
	up := results("upstream", 2, 2, 2)
	for i := range ours {
		ours[i].Reuse = &Reuse{LowerBound: 1 << 20}
	}
	lb, same := LowerBound(ours)
	assert.Equal(t, int64(1<<20), lb)
	assert.True(t, same)
	ours[0].Reuse = &Reuse{LowerBound: 2 << 20}
	_, same = LowerBound(ours)
	assert.False(t, same)
	_, same = LowerBound(up)
	assert.False(t, same, "upstream has no lower bound")

	up[0].BytesFetched = 3 << 20
	rows := SummarizeWith(UpdateMetrics(1<<20, 1<<19), ours, up)
	byName := map[string]Row{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	over := byName["bytes fetched / lower bound"]
	assert.Equal(t, 1.0, over.OursMed)
	assert.Equal(t, 1.0, over.UpMed)
	assert.Equal(t, []float64{3, 1, 1}, over.Upstream)
	assert.True(t, over.Met())
	assert.Equal(t, 0.5, byName["bytes fetched without the TOC / lower bound"].OursMed)
	assert.Equal(t, "≤ 1.00× met", byName["requests"].targetCell())
	assert.Equal(t, "ours ≤ 1.10 met", over.targetCell())
	over.OursMed = 1.2
	assert.False(t, over.Met())
	assert.Equal(t, "ours ≤ 1.10 **missed**", over.targetCell())
	assert.Equal(t, "1.20", over.format(1.2), "ratios keep decimals")
}

func TestConvertMetrics(t *testing.T) {
	rows := SummarizeWith(ConvertMetrics, results("ours", 1), results("upstream", 2))
	assert.Equal(t, 0.8, rows[1].Target, "CPU has a target for convert_images")
	assert.True(t, rows[1].Met())
}

func TestFirstPullMarkdown(t *testing.T) {
	ours := results("ours", 1, 3, 2)
	for i := range ours {
		ours[i].Reuse = &Reuse{FilesLinked: 1, FilesCopied: 10 + i}
	}
	s := FirstPullSection{
		Key: "firstpull", Title: "First pull", Command: "cmd", Date: "today", Rounds: 3, Warmup: 1,
		Setup: []string{"stores: some"},
		Cells: []FirstPullCell{
			{Layers: 0, Pull: 1, Ours: ours, Up: results("upstream", 4, 4, 5)},
			{Layers: 20, Pull: 2, Ours: ours, Up: results("upstream", 1, 1, 1)},
		},
	}
	md := s.Markdown()
	assert.True(t, strings.HasPrefix(md, "<!-- sidebyside:firstpull:begin -->\n"))
	assert.True(t, strings.HasSuffix(md, "<!-- sidebyside:firstpull:end -->\n"))
	assert.Contains(t, md, "- stores: some\n")
	assert.Contains(t, md, "| empty (cold) | first | 2.00 | 4.00 | 0.50× | (reference) | 0.50× | 1.00 | 1.00 | 1.00× | 12 | 11.00 / 11.00 |")
	assert.Contains(t, md, "| 20 ordinary layers | second | 2.00 | 1.00 | 2.00× | ≤ 1.00× **missed** |")
	assert.Contains(t, md, "| 20 ordinary layers | second | 1.00, 3.00, 2.00 / 1.00, 1.00, 1.00 |")
	assert.True(t, math.IsNaN(FilesReused(Result{})))
}
