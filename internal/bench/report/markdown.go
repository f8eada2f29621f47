package report

import (
	"fmt"
	"math"
	"strings"
)

// Machine describes where a run happened.
type Machine struct {
	NProc     int
	CPU       string
	Kernel    string
	GoVersion string
	Fs        string // filesystem the stores live on
}

// Section is one side-by-side run, rendered between markers so that a
// rerun of the same layer replaces only its own section.
type Section struct {
	Key      string // marker key, e.g. "goroot"
	Title    string
	Command  string
	Date     string
	Machine  Machine
	Revision string // the code measured
	Layer    string // what the layer is, in a sentence or two
	Rounds   int
	Warmup   int
	Rows     []Row
	DiffIDs  []string
	DiffIDOK bool
	Notes    []string
}

func beginMarker(key string) string { return "<!-- sidebyside:" + key + ":begin -->" }
func endMarker(key string) string   { return "<!-- sidebyside:" + key + ":end -->" }

// writeHeader writes what every section starts with: its begin marker,
// title, command, date, machine and code revision.
func writeHeader(b *strings.Builder, key, title, command, date string, m Machine, revision string) {
	fmt.Fprintf(b, "%s\n### %s\n\n", beginMarker(key), title)
	fmt.Fprintf(b, "```sh\n%s\n```\n\n", command)
	fmt.Fprintf(b, "- date: %s\n", date)
	fmt.Fprintf(b, "- machine: %d CPUs (%s), kernel %s, %s, stores on %s\n",
		m.NProc, m.CPU, m.Kernel, m.GoVersion, m.Fs)
	if revision != "" {
		fmt.Fprintf(b, "- code: %s\n", revision)
	}
}

// Markdown renders the section, markers included.
func (s Section) Markdown() string {
	var b strings.Builder
	writeHeader(&b, s.Key, s.Title, s.Command, s.Date, s.Machine, s.Revision)
	fmt.Fprintf(&b, "- layer: %s\n", s.Layer)
	fmt.Fprintf(&b, "- runs: %d per differ, alternated, each in its own process and fresh store, after %d discarded warm-up run(s) per differ\n", s.Rounds, s.Warmup)
	if s.DiffIDOK {
		fmt.Fprintf(&b, "- DiffID: `%s`, identical for every run of both differs\n", s.DiffIDs[0])
	} else {
		fmt.Fprintf(&b, "- **DiffID MISMATCH**: %s\n", strings.Join(quoteAll(s.DiffIDs), ", "))
	}
	b.WriteString("\n| metric | ours (median) | upstream (median) | ours/upstream | target | runs: ours / upstream |\n")
	b.WriteString("|---|---:|---:|---:|---|---|\n")
	for _, r := range s.Rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s / %s |\n",
			r.label(), r.format(r.OursMed), r.format(r.UpMed), formatRatio(r.Ratio), r.targetCell(),
			r.formatAll(r.Ours), r.formatAll(r.Upstream))
	}
	for _, n := range s.Notes {
		fmt.Fprintf(&b, "\n%s\n", n)
	}
	fmt.Fprintf(&b, "%s\n", endMarker(s.Key))
	return b.String()
}

func (r Row) label() string {
	if r.Unit == "" {
		return r.Name
	}
	return r.Name + " (" + r.Unit + ")"
}

// format gives seconds and MiB two decimals and counts none.
func (r Row) format(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	if r.Unit == "" {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

func (r Row) formatAll(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = r.format(x)
	}
	return strings.Join(parts, ", ")
}

func (r Row) targetCell() string {
	var goals []string
	if r.Target != 0 {
		goals = append(goals, fmt.Sprintf("≤ %.2f×", r.Target))
	}
	if r.OursMax != 0 {
		goals = append(goals, fmt.Sprintf("ours ≤ %.2f", r.OursMax))
	}
	if len(goals) == 0 {
		return ""
	}
	mark := "met"
	if !r.Met() {
		mark = "**missed**"
	}
	return strings.Join(goals, ", ") + " " + mark
}

func formatRatio(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", x)
}

func quoteAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = "`" + x + "`"
	}
	return out
}

// Replace puts section (from Markdown) into doc in place of the section
// with the same key, or appends it if there is none yet.
func Replace(doc, key, section string) string {
	begin, end := beginMarker(key), endMarker(key)
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		if doc != "" && !strings.HasSuffix(doc, "\n\n") {
			doc = strings.TrimRight(doc, "\n") + "\n\n"
		}
		return doc + section
	}
	rest := doc[j+len(end):]
	rest = strings.TrimPrefix(rest, "\n")
	return doc[:i] + section + rest
}
