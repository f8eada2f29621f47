package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/bench/layer"
	"github.com/chunkdiff/chunkdiff/internal/bench/report"
	"golang.org/x/sys/unix"
)

// runner runs pullone, one process and one fresh store per pull.
type runner struct {
	pullone     string
	stores      string // this run's store parent directory
	trash       *trash
	layer       layer.Files
	meta        layer.Meta
	base        *baseLayer // pulled first, untimed, if not nil
	pullOptions map[string]string
	pause       time.Duration
	seq         int
}

// baseLayer is the layer an update is pulled on top of.
type baseLayer struct {
	files layer.Files
	meta  layer.Meta
}

// pull runs one pull of side and moves its store aside. Extra arguments
// (profiles) go to pullone as they are.
func (r *runner) pull(side string, extra ...string) (report.Result, error) {
	r.seq++
	root := filepath.Join(r.stores, fmt.Sprintf("%02d-%s", r.seq, side))
	args := []string{
		"--differ", side, "--root", root,
		"--blob", r.layer.Blob(), "--annotations", r.layer.Annotations(), "--blob-digest", r.meta.BlobDigest.String(),
	}
	keys := make([]string, 0, len(r.pullOptions))
	for k := range r.pullOptions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--pull-option", k+"="+r.pullOptions[k])
	}
	if b := r.base; b != nil {
		args = append(args, "--parent-blob", b.files.Blob(), "--parent-annotations", b.files.Annotations(), "--parent-digest", b.meta.BlobDigest.String())
	}
	args = append(args, extra...)

	// Settle the previous run's writeback, so it is not billed to this one.
	unix.Sync()
	time.Sleep(r.pause)

	var stdout bytes.Buffer
	cmd := exec.Command(r.pullone, args...)
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	runErr := cmd.Run()
	if err := r.trash.moveAside(root); err != nil && runErr == nil {
		runErr = err
	}
	var res report.Result
	if runErr != nil {
		return res, fmt.Errorf("pullone %s: %w", side, runErr)
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return res, fmt.Errorf("pullone %s output %q: %w", side, stdout.String(), err)
	}
	return res, nil
}

// order alternates which differ goes first, round by round (ABBA...), so
// a slow drift of the machine does not favour either side.
func order(round int) [2]string {
	if round%2 == 0 {
		return [2]string{"ours", "upstream"}
	}
	return [2]string{"upstream", "ours"}
}
