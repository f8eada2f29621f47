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
	args := pulloneArgs(side, root, r.layer, r.meta, r.pullOptions)
	if b := r.base; b != nil {
		args = append(args, "--parent-blob", b.files.Blob(), "--parent-annotations", b.files.Annotations(), "--parent-digest", b.meta.BlobDigest.String())
	}
	res, runErr := runPullone(r.pullone, side, append(args, extra...), r.pause)
	if err := r.trash.moveAside(root); err != nil && runErr == nil {
		runErr = err
	}
	return res, runErr
}

// pulloneArgs are the arguments of one pull of blob f (described by m) by
// side into root, pull options in a stable order.
func pulloneArgs(side, root string, f layer.Files, m layer.Meta, pullOptions map[string]string) []string {
	args := []string{
		"--differ", side, "--root", root,
		"--blob", f.Blob(), "--annotations", f.Annotations(), "--blob-digest", m.BlobDigest.String(),
	}
	keys := make([]string, 0, len(pullOptions))
	for k := range pullOptions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--pull-option", k+"="+pullOptions[k])
	}
	return args
}

// runPullone runs pullone once, after settling the previous run's writeback
// (so it is not billed to this one) and pausing, and decodes its result.
func runPullone(pullone, side string, args []string, pause time.Duration) (report.Result, error) {
	unix.Sync()
	time.Sleep(pause)
	var stdout bytes.Buffer
	cmd := exec.Command(pullone, args...)
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	var res report.Result
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("pullone %s: %w", side, err)
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
