package report

import (
	"fmt"
	"math"
	"strings"
)

// FirstPullCell is one measured pull of the first-pull benchmark (issue
// 14): the update pulled into a store holding Layers ordinary layers (0:
// an empty store, the cold pull), as the store's first partial pull
// (Pull 1) or its second (Pull 2, after the first).
type FirstPullCell struct {
	Layers   int
	Pull     int
	Ours, Up []Result
}

// FilesReused is what our differ reused whole (hard-linked or copied from
// another layer's file); upstream reports nothing of the kind.
func FilesReused(r Result) float64 {
	if r.Reuse == nil {
		return math.NaN()
	}
	return float64(r.Reuse.FilesLinked + r.Reuse.FilesCopied)
}

// FirstPullSection is the first-pull benchmark's part of
// docs/BENCHMARKS.md, between markers like Section's.
type FirstPullSection struct {
	Key      string
	Title    string
	Command  string
	Date     string
	Machine  Machine
	Revision string
	Setup    []string // bullet points: the stores, the layers, how pulls ran
	Rounds   int
	Warmup   int
	Cells    []FirstPullCell
	Notes    []string
}

func med(rs []Result, get func(Result) float64) float64 {
	xs := make([]float64, 0, len(rs))
	for _, r := range rs {
		xs = append(xs, get(r))
	}
	return Median(xs)
}

func all(rs []Result, get func(Result) float64, format string) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf(format, get(r))
	}
	return strings.Join(parts, ", ")
}

func storeName(n int) string {
	switch n {
	case 0:
		return "empty (cold)"
	case 1:
		return "1 ordinary layer"
	}
	return fmt.Sprintf("%d ordinary layers", n)
}

func pullName(n int) string {
	if n == 1 {
		return "first"
	}
	return "second"
}

func f2(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", x)
}

func f0(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.0f", x)
}

var (
	getWall    = func(r Result) float64 { return r.WallS }
	getCPU     = Result.CPUS
	getFetched = func(r Result) float64 { return mib(r.BytesFetched) }
	getRSS     = func(r Result) float64 { return float64(r.MaxRSSKiB) / 1024 }
)

// WallMet reports whether ours' median wall time is at most upstream's.
func (c FirstPullCell) WallMet() bool {
	r := Ratio(med(c.Ours, getWall), med(c.Up, getWall))
	return !math.IsNaN(r) && r <= 1
}

// Markdown renders the section, markers included: a summary table of
// medians, then every run.
func (s FirstPullSection) Markdown() string {
	var b strings.Builder
	writeHeader(&b, s.Key, s.Title, s.Command, s.Date, s.Machine, s.Revision)
	for _, l := range s.Setup {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	fmt.Fprintf(&b, "- runs: %d per differ and cell, alternated (ours first in odd rounds, upstream first in even ones), each pull its own process, after %d discarded warm-up round(s)\n", s.Rounds, s.Warmup)

	b.WriteString("\nMedians. Wall and CPU cover NewDiffer through ApplyStagedLayer; bytes are everything read from the blob (TOC, tar-split and content); files reused are our differ's whole-file reuse (hard-linked or copied from another layer), which upstream does not report.\n\n")
	b.WriteString("| store before the pull | pull | wall ours (s) | wall upstream (s) | wall ours/upstream | target | CPU ours/upstream | fetched ours (MiB) | fetched upstream (MiB) | fetched ours/upstream | files reused by ours | peak RSS ours / upstream (MiB) |\n")
	b.WriteString("|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range s.Cells {
		wo, wu := med(c.Ours, getWall), med(c.Up, getWall)
		fo, fu := med(c.Ours, getFetched), med(c.Up, getFetched)
		target := "≤ 1.00× met"
		if !c.WallMet() {
			target = "≤ 1.00× **missed**"
		}
		if c.Layers == 0 {
			target = "(reference)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |\n",
			storeName(c.Layers), pullName(c.Pull), f2(wo), f2(wu), formatRatio(Ratio(wo, wu)), target,
			formatRatio(Ratio(med(c.Ours, getCPU), med(c.Up, getCPU))),
			f2(fo), f2(fu), formatRatio(Ratio(fo, fu)), f0(med(c.Ours, FilesReused)),
			f2(med(c.Ours, getRSS)), f2(med(c.Up, getRSS)))
	}

	b.WriteString("\nEvery run, in run order (ours / upstream):\n\n")
	b.WriteString("| store | pull | wall (s) | CPU (s) | fetched (MiB) | files reused by ours |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, c := range s.Cells {
		fmt.Fprintf(&b, "| %s | %s | %s / %s | %s / %s | %s / %s | %s |\n",
			storeName(c.Layers), pullName(c.Pull),
			all(c.Ours, getWall, "%.2f"), all(c.Up, getWall, "%.2f"),
			all(c.Ours, getCPU, "%.2f"), all(c.Up, getCPU, "%.2f"),
			all(c.Ours, getFetched, "%.1f"), all(c.Up, getFetched, "%.1f"),
			all(c.Ours, FilesReused, "%.0f"))
	}
	for _, n := range s.Notes {
		fmt.Fprintf(&b, "\n%s\n", n)
	}
	fmt.Fprintf(&b, "%s\n", endMarker(s.Key))
	return b.String()
}
