package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"

	"github.com/chunkdiff/chunkdiff/internal/bench/report"
)

// pullParent pulls cfg.parent into cfg.root with the same differ and pull
// options by running this binary again, and returns the new layer's ID.
// A child process keeps the base pull's memory peak out of this process's
// max RSS (it lands in children_max_rss_kib instead); it finishes before
// this process opens the store.
func pullParent(cfg config) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("parent pull: %w", err)
	}
	args := []string{"--differ", cfg.differ, "--root", cfg.root, "--driver", cfg.driver, "--blob", cfg.parent.blob}
	if cfg.parent.annotations != "" {
		args = append(args, "--annotations", cfg.parent.annotations)
	}
	if cfg.parent.digest != "" {
		args = append(args, "--blob-digest", cfg.parent.digest)
	}
	keys := make([]string, 0, len(cfg.pullOptions))
	for k := range cfg.pullOptions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--pull-option", k+"="+cfg.pullOptions[k])
	}
	var stdout bytes.Buffer
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("parent pull: %w", err)
	}
	var r report.Result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return "", fmt.Errorf("parent pull output %q: %w", stdout.String(), err)
	}
	return r.LayerID, nil
}
