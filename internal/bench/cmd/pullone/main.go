// Command pullone pulls one zstd:chunked layer blob into a fresh
// containers/storage store with either chunkdiff's differ or upstream's, the
// way c/image does, and prints one JSON line (report.Result). The side-by-
// side harness runs it once per measurement, so every pull has a process of
// its own: peak RSS is per process and nothing is shared between runs.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"go.podman.io/storage/pkg/reexec"
)

// pullFlags are the store's pull options, as storage.conf would set them.
type pullFlags map[string]string

func (p pullFlags) String() string { return fmt.Sprint(map[string]string(p)) }

func (p pullFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	p[k] = v
	return nil
}

func main() {
	// Storage re-executes this binary for some operations (chrootarchive,
	// overlay's mountfrom); the child must not run main.
	if reexec.Init() {
		return
	}
	var (
		cfg     config
		partial = flag.Bool("enable-partial-images", true, "pull option enable_partial_images")
		hard    = flag.Bool("use-hard-links", false, "pull option use_hard_links")
		convert = flag.Bool("convert-images", false, "pull option convert_images")
		extra   = pullFlags{}
		puts    blobList
	)
	flag.StringVar(&cfg.differ, "differ", "", "ours or upstream (required)")
	flag.StringVar(&cfg.root, "root", "", "store root; must not hold another process's store (required)")
	flag.StringVar(&cfg.driver, "driver", "overlay", "graph driver")
	flag.StringVar(&cfg.layer.blob, "blob", "", "zstd:chunked layer blob (required)")
	flag.StringVar(&cfg.layer.annotations, "annotations", "", "layer annotations JSON (default: BLOB's dir/annotations.json)")
	flag.StringVar(&cfg.layer.digest, "blob-digest", "", "blob digest (default: computed before the timed pull)")
	flag.StringVar(&cfg.parent.blob, "parent-blob", "", "base layer pulled first, untimed, in a child process")
	flag.StringVar(&cfg.parent.annotations, "parent-annotations", "", "annotations JSON of --parent-blob")
	flag.StringVar(&cfg.parent.digest, "parent-digest", "", "digest of --parent-blob")
	flag.StringVar(&cfg.parentID, "parent-id", "", "existing layer in --root to pull on top of")
	flag.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the timed pull")
	flag.StringVar(&cfg.memProfile, "memprofile", "", "write heap profiles: FILE near the heap peak, FILE.allocs after the pull")
	flag.StringVar(&cfg.dump, "dump", "", "write our differ's state dump (JSON) here")
	flag.Var(extra, "pull-option", "extra pull option key=value (repeatable)")
	flag.Var(&puts, "put", "instead of a partial pull: store.PutLayer this compressed blob into --root as a layer of its own, an ordinary pull (repeatable; prints the layer IDs)")
	flag.Parse()

	if len(puts) > 0 {
		if cfg.root == "" {
			fmt.Fprintln(os.Stderr, "pullone: --put needs --root")
			os.Exit(2)
		}
		res, err := put(cfg.root, cfg.driver, puts)
		if err == nil {
			err = printJSON(res)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "pullone:", err)
			os.Exit(1)
		}
		return
	}

	cfg.pullOptions = map[string]string{
		"enable_partial_images": fmt.Sprint(*partial),
		"use_hard_links":        fmt.Sprint(*hard),
		"convert_images":        fmt.Sprint(*convert),
	}
	for k, v := range extra {
		cfg.pullOptions[k] = v
	}
	res, err := run(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pullone:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "pullone:", err)
		os.Exit(1)
	}
}
