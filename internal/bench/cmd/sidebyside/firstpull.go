package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/bench/layer"
	"github.com/chunkdiff/chunkdiff/internal/bench/report"
	"golang.org/x/sys/unix"
)

// The first-pull benchmark (issue 14, --ordinary-layers): stores holding N
// layers pulled ordinarily (gzip blobs, store.PutLayer, no TOC; the base
// tree among them), then a partial pull of the base tree's next release
// (treegen.Update seed 1, zstd:chunked) as a new layer without a parent,
// then a second partial pull (seed 2) into the same store. N = 0 is the
// cold pull of the same two layers into an empty store, for reference.
//
// Each store is prepared once, untimed, by pullone --put into a template
// (cached under OUT/firstpull), and every measured pair of pulls gets a
// fresh `cp -a` of it. Copies are moved into the trash afterwards and
// deleted only at the end (see trash.go).

// firstPullOptions are the flags of this mode.
type firstPullOptions struct {
	counts     []int // store sizes in ordinary layers, 0 included
	files      int   // regular files of an average other layer
	mib        int64 // MiB of an average other layer
	storeCache string
}

func parseCounts(s string) ([]int, error) {
	seen := map[int]bool{0: true}
	counts := []int{0}
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--ordinary-layers: want a list of counts ≥ 1, got %q", s)
		}
		if !seen[n] {
			seen[n] = true
			counts = append(counts, n)
		}
	}
	sort.Ints(counts)
	return counts, nil
}

// otherSpecs are the ordinary layers besides the base tree: distinct
// toolchain-like trees, 0.5×, 1× and 1.5× the average size in turn.
func otherSpecs(n int, files int, mib int64) []layer.Spec {
	var out []layer.Spec
	for i := 1; i < n; i++ {
		scale := int64(1 + i%3) // 2, 3, 1, 2, 3, 1, ...: halves
		out = append(out, layer.Spec{
			Kind: "realistic", Seed: 1000 + int64(i), Format: layer.FormatGzip,
			Files: files * int(scale) / 2, MiB: mib * scale / 2,
		})
	}
	return out
}

// fpLayer is a built layer.
type fpLayer struct {
	files layer.Files
	meta  layer.Meta
}

func runFirstPull(o options, command string) (err error) {
	fo := o.firstPull
	out, tr, err := openOut(o)
	if err != nil {
		return err
	}
	defer emptyTrash(o, tr, &err)

	ensure := func(s layer.Spec) (fpLayer, error) {
		name, _ := s.Name()
		logf("layer %s: building or loading", name)
		f, m, err := layer.Ensure(out, s, tr.moveAside)
		return fpLayer{f, m}, err
	}
	base := layer.Spec{Kind: o.layer, GoRoot: o.goroot, Files: o.files, MiB: o.mib}
	ordinaryBase := base
	ordinaryBase.Format = layer.FormatGzip
	maxN := fo.counts[len(fo.counts)-1]
	specs := append([]layer.Spec{ordinaryBase}, otherSpecs(maxN, fo.files, fo.mib)...)
	var ordinary []fpLayer
	for _, s := range specs {
		l, err := ensure(s)
		if err != nil {
			return err
		}
		ordinary = append(ordinary, l)
	}
	var updates [2]fpLayer
	for i := range updates {
		s := base
		s.UpdateSeed = int64(i + 1)
		if updates[i], err = ensure(s); err != nil {
			return err
		}
	}

	pullone, err := preparePullone(&o, out)
	if err != nil {
		return err
	}
	templates := map[int]string{}
	var putSeconds = map[int]float64{}
	for _, n := range fo.counts[1:] {
		if templates[n], putSeconds[n], err = template(out, pullone, ordinary[:n], tr); err != nil {
			return err
		}
	}
	tr.settle(o.settle, logf)

	stores := filepath.Join(out, "stores", time.Now().Format("20060102-150405"))
	defer func() { _ = os.Remove(stores) }()
	fr := &fpRunner{pullone: pullone, stores: stores, trash: tr, updates: updates, pullOptions: o.pullOpts, pause: o.pause, coldCache: fo.storeCache == "cold"}
	results := map[[3]int][]report.Result{} // [N, pull, side (0 ours, 1 upstream)]
	for round := range o.warmup + o.rounds {
		for _, n := range fo.counts {
			for _, side := range order(round) {
				res, err := fr.pair(side, n, templates[n])
				if err != nil {
					return err
				}
				what := "warm-up"
				if round >= o.warmup {
					what = fmt.Sprintf("round %d", round-o.warmup+1)
				}
				for i, r := range res {
					logf("%s, %d ordinary layers, pull %d, %s: %s", what, n, i+1, side, brief(r))
					if round >= o.warmup {
						k := [3]int{n, i + 1, sideIndex(side)}
						results[k] = append(results[k], r)
					}
				}
			}
		}
	}

	sec, problems := firstPullSection(o, command, out, ordinary, updates, putSeconds, results)
	return publish(o, sec.Key, sec.Markdown(), func() error { return fr.profile(o.profileDir, maxN, templates[maxN]) }, problems)
}

func sideIndex(side string) int {
	if side == "ours" {
		return 0
	}
	return 1
}

// template returns a store holding layers put ordinarily, building it
// (untimed) unless a previous run left it. Its key is the blobs' digests.
func template(out, pullone string, layers []fpLayer, tr *trash) (string, float64, error) {
	h := sha256.New()
	for _, l := range layers {
		h.Write([]byte(l.meta.BlobDigest.String() + "\n"))
	}
	dir := filepath.Join(out, "firstpull", fmt.Sprintf("%02d-%x", len(layers), h.Sum(nil)[:6]))
	root := filepath.Join(dir, "root")
	ready := filepath.Join(dir, "ready.json")
	var res struct {
		Layers  []string `json:"layers"`
		Seconds float64  `json:"seconds"`
	}
	if b, err := os.ReadFile(ready); err == nil && json.Unmarshal(b, &res) == nil {
		logf("store of %d ordinary layers: %s (cached)", len(layers), root)
		return root, res.Seconds, nil
	}
	if _, err := os.Stat(dir); err == nil {
		if err := tr.moveAside(dir); err != nil { // an interrupted build
			return "", 0, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, err
	}
	args := []string{"--root", root}
	for _, l := range layers {
		args = append(args, "--put", l.files.Blob())
	}
	logf("store of %d ordinary layers: putting them into %s", len(layers), root)
	var stdout bytes.Buffer
	cmd := exec.Command(pullone, args...)
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", 0, fmt.Errorf("prepare store of %d layers: %w", len(layers), err)
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || len(res.Layers) != len(layers) {
		return "", 0, fmt.Errorf("prepare store of %d layers: output %q: %v", len(layers), stdout.String(), err)
	}
	logf("store of %d ordinary layers: PutLayer took %.1f s", len(layers), res.Seconds)
	unix.Sync()
	return root, res.Seconds, os.WriteFile(ready, stdout.Bytes(), 0o644)
}

// minFree is the free space a pair of pulls into a copied store needs.
const minFree = 4 << 30

// fpRunner runs the pairs of pulls.
type fpRunner struct {
	pullone     string
	stores      string
	trash       *trash
	updates     [2]fpLayer
	pullOptions map[string]string
	pause       time.Duration
	coldCache   bool
	seq         int
}

// pair copies the template (none for n = 0) into a fresh store, pulls the
// two updates into it one after the other, each in its own pullone
// process, and moves the store aside.
func (fr *fpRunner) pair(side string, n int, template string, extra ...[]string) ([2]report.Result, error) {
	var res [2]report.Result
	fr.seq++
	root := filepath.Join(fr.stores, fmt.Sprintf("%03d-n%02d-%s", fr.seq, n, side))
	if err := os.MkdirAll(fr.stores, 0o755); err != nil {
		return res, err
	}
	if template != "" {
		// Copies pile up in the trash until the end (about 1.3 GiB per
		// pair into the 20-layer store): stop before the disk fills,
		// which would fail the other users of this machine too.
		var st unix.Statfs_t
		if err := unix.Statfs(fr.stores, &st); err == nil && int64(st.Bavail)*st.Bsize < minFree {
			return res, fmt.Errorf("less than %d GiB free under %s: delete the trash (or run without --keep-trash) first", minFree>>30, fr.stores)
		}
		cp := exec.Command("cp", "-a", "--", template, root)
		cp.Stderr = os.Stderr
		if err := cp.Run(); err != nil {
			return res, fmt.Errorf("copy store: %w", err)
		}
		unix.Sync()
		if fr.coldCache {
			if err := evict(root); err != nil {
				return res, err
			}
		}
	}
	var runErr error
	for i, u := range fr.updates {
		var ex []string
		if i < len(extra) {
			ex = extra[i]
		}
		if res[i], runErr = fr.pull(side, root, u, ex); runErr != nil {
			break
		}
	}
	if err := fr.trash.moveAside(root); err != nil && runErr == nil {
		runErr = err
	}
	return res, runErr
}

func (fr *fpRunner) pull(side, root string, u fpLayer, extra []string) (report.Result, error) {
	args := pulloneArgs(side, root, u.files, u.meta, fr.pullOptions)
	return runPullone(fr.pullone, side, append(args, extra...), fr.pause)
}

// evict drops the store's file data from the page cache (clean after
// sync), as in a store filled days before the pull; directory entries and
// inodes stay cached.
func evict(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOATIME, 0)
		if err != nil {
			return fmt.Errorf("evict %s: %w", p, err)
		}
		defer func() { _ = unix.Close(fd) }()
		return unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	})
}

// profile runs one more, unmeasured pair per differ into the biggest
// store, with CPU and heap profiles of both pulls.
func (fr *fpRunner) profile(dir string, n int, template string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, side := range []string{"ours", "upstream"} {
		var extra [][]string
		for i := 1; i <= 2; i++ {
			base := filepath.Join(dir, fmt.Sprintf("%s-n%d-pull%d", side, n, i))
			extra = append(extra, []string{"--cpuprofile", base + ".cpu.pprof", "--memprofile", base + ".heap.pprof"})
		}
		res, err := fr.pair(side, n, template, extra...)
		if err != nil {
			return err
		}
		for i, r := range res {
			logf("profiled %s, %d ordinary layers, pull %d: %s", side, n, i+1, brief(r))
		}
	}
	return nil
}

// firstPullSection summarises the runs; problems are the checks that failed.
func firstPullSection(o options, command, out string, ordinary []fpLayer, updates [2]fpLayer, putSeconds map[int]float64, results map[[3]int][]report.Result) (report.FirstPullSection, []string) {
	fo := o.firstPull
	var problems []string
	var cells []report.FirstPullCell
	for _, n := range fo.counts {
		for pull := 1; pull <= 2; pull++ {
			c := report.FirstPullCell{Layers: n, Pull: pull, Ours: results[[3]int{n, pull, 0}], Up: results[[3]int{n, pull, 1}]}
			want := updates[pull-1].meta.DiffID.String()
			ids, ok := report.Consistent(c.Ours, c.Up)
			if !ok || ids[0] != want {
				problems = append(problems, fmt.Sprintf("%d layers, pull %d: DiffIDs %v, want %s", n, pull, ids, want))
			}
			files := map[int]bool{}
			for _, r := range append(append([]report.Result(nil), c.Ours...), c.Up...) {
				files[r.LayerFiles] = true
			}
			if len(files) != 1 {
				problems = append(problems, fmt.Sprintf("%d layers, pull %d: layer file counts differ: %v", n, pull, files))
			}
			cells = append(cells, c)
		}
	}
	var sizes, totals []string
	var total int64
	var totalFiles int
	for i, l := range ordinary {
		total += l.meta.Counts.FileBytes
		totalFiles += l.meta.Counts.Files
		if i > 0 {
			sizes = append(sizes, fmt.Sprintf("%d/%.0f", l.meta.Counts.Files, float64(l.meta.Counts.FileBytes)/(1<<20)))
		}
		for _, n := range fo.counts {
			if i+1 == n {
				totals = append(totals, fmt.Sprintf("N=%d: %d files, %.0f MiB of file data, PutLayer %.0f s", n, totalFiles, float64(total)/(1<<20), putSeconds[n]))
			}
		}
	}
	cache := "the store's file data evicted from the page cache after the copy (`posix_fadvise(DONTNEED)` on every file after `sync`; dentries and inodes stay cached), as in a store filled days before; the blobs are cached"
	if fo.storeCache != "cold" {
		cache = "the store's files warm in the page cache (just copied)"
	}
	setup := []string{
		fmt.Sprintf("ordinary layers, a store of N holds the first N of: %s; then %d distinct toolchain-like trees (treegen.RealisticEntries, seeds 1001…, gzip blobs; files/MiB: %s). Each layer is its own image (no parent), PutLayer of the gzip blob as c/image's ordinary pull does, prepared once, untimed, and cached under `internal/bench/out/firstpull`",
			ordinary[0].meta.Description, len(ordinary)-1, strings.Join(sizes, ", ")),
		"stores: " + strings.Join(totals, "; "),
		"first pull: " + updates[0].meta.Description + "; as a new layer without a parent, the store's first partial pull",
		"second pull: " + updates[1].meta.Description + "; into the same store right after the first, in a new process (our differ may have left index state behind)",
		fmt.Sprintf("every measured pair of pulls gets a fresh `cp -a` of the prepared store (untimed; `sync` after it and %s before each pull), %s. Pull options: %s", o.pause, cache, optionString(o.pullOpts)),
	}
	notes := []string{
		"The machine is shared with another engineer's builds and tests (2 CPUs): the differs alternate pull by pull, so load hits both sides alike, and the table lists every run. Copies of the stores are moved aside and deleted only after the last measurement (ext4 here slows down file creation for minutes after a large delete).",
		"Upstream reuses nothing from layers pulled without a TOC (its chunks cache only reads layers' TOCs), so its first pull fetches the whole layer whatever the store holds; ours looks the TOC's files up by path in each ordinary layer (`index.FilesByPath`) and verifies what it reuses. In the second pull both differs can reuse the first pull's layer, which has a TOC.",
	}
	for _, p := range problems {
		notes = append(notes, "**Check failed:** "+p)
	}
	key, title := "firstpull-ordinary", "First partial pull into a store of ordinary layers (issue #14)"
	if fo.storeCache != "cold" {
		key, title = key+"-warm", title+", store in the page cache"
	}
	return report.FirstPullSection{
		Key:      key,
		Title:    title,
		Command:  command,
		Date:     time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		Machine:  machine(out),
		Revision: o.revision,
		Setup:    setup,
		Rounds:   o.rounds,
		Warmup:   o.warmup,
		Cells:    cells,
		Notes:    notes,
	}, problems
}
