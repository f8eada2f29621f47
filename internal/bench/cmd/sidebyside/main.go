// Command sidebyside benchmarks chunkdiff's differ against upstream's on
// the same layer in the same run: it builds (once, cached under internal/bench/out)
// a realistic zstd:chunked layer, runs pullone for each differ alternately,
// one process and one fresh store per pull, and reports medians and ratios,
// also into a marked section of docs/BENCHMARKS.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// options are the command line.
type options struct {
	layer      string
	format     string
	update     int64
	goroot     string
	files      int
	mib        int64
	rounds     int
	warmup     int
	out        string
	doc        string
	pause      time.Duration
	settle     time.Duration
	pullone    string
	rev        string
	revision   string // what was measured, for the report
	profileDir string
	keepTrash  bool
	pullOpts   map[string]string
	firstPull  firstPullOptions
}

type kvFlag map[string]string

func (p kvFlag) String() string { return fmt.Sprint(map[string]string(p)) }

func (p kvFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	p[k] = v
	return nil
}

func main() {
	o := options{pullOpts: map[string]string{}}
	flag.StringVar(&o.layer, "layer", "goroot", "goroot (the Go toolchain tree), synthetic, or quick (a small synthetic layer)")
	flag.StringVar(&o.format, "format", "zstd:chunked", "layer blob format: zstd:chunked (upstream's compressor) or gzip (no TOC; pair with --pull-option convert_images=true)")
	flag.Int64Var(&o.update, "update", 0, "if not 0: pull treegen.Update(layer, seed UPDATE) on top of the layer (the base, pulled first and untimed by the same differ in the same store)")
	flag.StringVar(&o.goroot, "goroot", "/usr/local/go", "tree for --layer goroot")
	flag.IntVar(&o.files, "files", 15000, "regular files for --layer synthetic")
	flag.Int64Var(&o.mib, "mib", 300, "MiB of file data for --layer synthetic")
	flag.IntVar(&o.rounds, "rounds", 3, "measured pulls per differ")
	flag.IntVar(&o.warmup, "warmup", 1, "discarded pulls per differ first (page cache, binary)")
	flag.StringVar(&o.out, "out", "internal/bench/out", "cache, stores and trash (git-ignored)")
	flag.StringVar(&o.doc, "doc", "docs/BENCHMARKS.md", `markdown file whose section for this layer is replaced ("" for none)`)
	flag.DurationVar(&o.pause, "pause", 2*time.Second, "pause after sync before each pull")
	flag.DurationVar(&o.settle, "settle", 375*time.Second, "minimum time between the harness's last deletion of old stores and the first pull (ext4 without a journal: 360 s)")
	flag.StringVar(&o.pullone, "pullone", "", "pullone binary (default: build it into OUT/bin)")
	flag.StringVar(&o.rev, "rev", "", "build pullone from this git revision (git archive) instead of the working tree")
	flag.StringVar(&o.profileDir, "profile", "", "after the measured runs, one extra profiled pull per differ, profiles written here")
	flag.BoolVar(&o.keepTrash, "keep-trash", false, "do not delete the old stores at the end")
	flag.Var(kvFlag(o.pullOpts), "pull-option", "pull option key=value for both differs (repeatable; default enable_partial_images=true)")
	ordinary := flag.String("ordinary-layers", "", "first-pull benchmark (issue 14): comma-separated store sizes, e.g. 1,5,20: stores of that many layers put ordinarily (gzip, PutLayer; the --layer tree first), then a partial pull of the tree's update (seed 1) and a second one (seed 2); plus the same into an empty store")
	flag.IntVar(&o.firstPull.files, "ordinary-files", 3000, "with --ordinary-layers: regular files of an average other ordinary layer")
	flag.Int64Var(&o.firstPull.mib, "ordinary-mib", 40, "with --ordinary-layers: MiB of an average other ordinary layer")
	flag.StringVar(&o.firstPull.storeCache, "store-cache", "cold", "with --ordinary-layers: cold (evict the copied store's file data from the page cache before the pulls) or warm")
	flag.Parse()
	if o.layer == "quick" {
		o.layer, o.files, o.mib = "synthetic", 1500, 24
	}
	if _, ok := o.pullOpts["enable_partial_images"]; !ok {
		o.pullOpts["enable_partial_images"] = "true"
	}
	if o.rounds < 1 {
		fmt.Fprintln(os.Stderr, "sidebyside: --rounds must be at least 1")
		os.Exit(2)
	}
	runMode := run
	if *ordinary != "" {
		counts, err := parseCounts(*ordinary)
		if err != nil || o.update != 0 || (o.firstPull.storeCache != "cold" && o.firstPull.storeCache != "warm") {
			fmt.Fprintln(os.Stderr, "sidebyside: --ordinary-layers wants counts ≥ 1, no --update, --store-cache cold or warm:", err)
			os.Exit(2)
		}
		o.firstPull.counts = counts
		runMode = runFirstPull
	}
	lock, err := lockOut(o.out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sidebyside:", err)
		os.Exit(1)
	}
	err = runMode(o, commandLine())
	runtime.KeepAlive(lock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sidebyside:", err)
		os.Exit(1)
	}
}

// commandLine is how to reproduce this run, for the report.
func commandLine() string {
	parts := []string{"go run -tags exclude_graphdriver_btrfs ./internal/bench/cmd/sidebyside"}
	for _, a := range os.Args[1:] {
		if a == "" || strings.ContainsAny(a, " \t'\"$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
