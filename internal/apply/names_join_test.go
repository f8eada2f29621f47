package apply

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
)

// smallNames makes the binding spill after recent entries, in runs of
// sortRecords, for the test's duration.
func smallNames(t *testing.T, recent, sortRecords int) {
	oldRecent, oldSort := namesRecent, namesSortRecords
	namesRecent, namesSortRecords = recent, sortRecords
	t.Cleanup(func() { namesRecent, namesSortRecords = oldRecent, oldSort })
}

func replayOf(es []toc.Entry) Replay {
	return func(each func(*toc.Entry) bool) error {
		for i := range es {
			if !each(&es[i]) {
				break
			}
		}
		return nil
	}
}

// bindAll binds es as the differ does: Add until one fails, then Finish.
// deferred reports whether the answer came from Finish.
func bindAll(tb testing.TB, tempDir string, es []toc.Entry) (err error, deferred bool) {
	n := NewNames(tempDir)
	defer n.Close()
	for i := range es {
		if err := n.Add(&es[i]); err != nil {
			return err, false
		}
	}
	return n.Finish(replayOf(es)), true
}

// randomLayer is a valid layer (unique paths, links after their non-dir
// targets) with a few hostile changes: repeated paths in other spellings,
// links to later, missing or directory targets, non-local names.
func randomLayer(rng *rand.Rand) []toc.Entry {
	spell := func(p string) string {
		return []string{p, "/" + p, "./" + p, p + "/"}[rng.IntN(4)]
	}
	var es []toc.Entry
	var files, dirs []string
	for i := range 20 + rng.IntN(60) {
		p := fmt.Sprintf("p%d", i)
		switch r := rng.IntN(10); {
		case r < 3:
			es = append(es, toc.Entry{Type: toc.TypeDir, Name: p + "/"})
			dirs = append(dirs, p)
		case r < 5 && len(files) > 0:
			es = append(es, toc.Entry{Type: toc.TypeHardlink, Name: p, LinkName: spell(files[rng.IntN(len(files))])})
			files = append(files, p)
		default:
			typ := []string{toc.TypeReg, toc.TypeSymlink, toc.TypeFifo}[rng.IntN(3)]
			es = append(es, toc.Entry{Type: typ, Name: p, LinkName: "anything"})
			files = append(files, p)
		}
	}
	// A link's own name may repeat a path too: both refusals apply to it.
	linkName := func() string {
		if rng.IntN(3) == 0 {
			return spell(strings.Trim(es[rng.IntN(len(es))].Name, "/"))
		}
		return fmt.Sprintf("l%d", rng.Int())
	}
	for range rng.IntN(3) {
		at := rng.IntN(len(es) + 1)
		var bad toc.Entry
		switch rng.IntN(5) {
		case 0: // a repeated path
			bad = toc.Entry{Type: toc.TypeReg, Name: spell(strings.Trim(es[rng.IntN(len(es))].Name, "/"))}
		case 1: // a link to any path, maybe later or missing
			bad = toc.Entry{Type: toc.TypeHardlink, Name: linkName(), LinkName: spell(fmt.Sprintf("p%d", rng.IntN(len(es)+5)))}
		case 2:
			if len(dirs) == 0 {
				continue
			}
			bad = toc.Entry{Type: toc.TypeHardlink, Name: linkName(), LinkName: spell(dirs[rng.IntN(len(dirs))])}
		case 3:
			bad = toc.Entry{Type: toc.TypeHardlink, Name: linkName(), LinkName: "../x"}
		case 4:
			bad = toc.Entry{Type: toc.TypeReg, Name: "../escape"}
		}
		es = append(es[:at], append([]toc.Entry{bad}, es[at:]...)...)
	}
	return es
}

// Whether the map holds the whole layer or it overflows every few entries,
// the binding refuses the same entry with the same error (the earliest
// refused, named as given).
func TestNamesSameAnswerAcrossSpill(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(12, 12))
	layers := make([][]toc.Entry, 3000)
	want := make([]error, len(layers))
	for i := range layers {
		layers[i] = randomLayer(rng)
		want[i], _ = bindAll(t, dir, layers[i]) // all in memory: Add answers
	}
	smallNames(t, 3, 5)
	var deferred, refused int
	for i, es := range layers {
		got, fromFinish := bindAll(t, dir, es)
		if fmt.Sprint(got) != fmt.Sprint(want[i]) {
			t.Fatalf("layer %d: %v across the spill, %v in memory", i, got, want[i])
		}
		if got != nil {
			refused++
			if fromFinish {
				deferred++
			}
		}
		for _, target := range []error{ErrDuplicateEntry, ErrLinkOrder, ErrConflict, ErrInsecurePath} {
			if errors.Is(got, target) != errors.Is(want[i], target) {
				t.Fatalf("layer %d: %v vs %v for %v", i, got, want[i], target)
			}
		}
	}
	t.Logf("%d layers, %d refused, %d of them by Finish", len(layers), refused, deferred)
	if deferred < len(layers)/10 || refused == len(layers) {
		t.Errorf("%d refused, %d by Finish: the test does not cover the join", refused, deferred)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("temp dir not empty: %v", left)
	}
}

// Refusals the join finds name the entry as given and keep their types.
func TestNamesDeferredErrors(t *testing.T) {
	smallNames(t, 4, 3)
	var base []toc.Entry
	base = append(base, toc.Entry{Type: toc.TypeDir, Name: "d/"}, toc.Entry{Type: toc.TypeReg, Name: "d/f"})
	for i := range 10 {
		base = append(base, toc.Entry{Type: toc.TypeReg, Name: fmt.Sprint("filler", i)})
	}
	for _, c := range []struct {
		name  string
		extra []toc.Entry
		want  error
		msg   string
	}{
		{"good link to a spilled target", []toc.Entry{{Type: toc.TypeHardlink, Name: "h", LinkName: "/d/f"}}, nil, ""},
		{"repeated spilled path", []toc.Entry{{Type: toc.TypeSymlink, Name: "./d/f", LinkName: "x"}}, ErrDuplicateEntry,
			`apply "./d/f": the layer already has this path as a "reg" entry; a "symlink" entry may not replace it`},
		{"repeated spilled dir", []toc.Entry{{Type: toc.TypeDir, Name: "/d"}}, ErrDuplicateEntry, `apply "/d": the layer already has this path as a "dir" entry`},
		{"link to a spilled dir", []toc.Entry{{Type: toc.TypeHardlink, Name: "h", LinkName: "./d"}}, ErrConflict, `apply "h": link target "./d" is a directory`},
		{"link to a later target", []toc.Entry{{Type: toc.TypeHardlink, Name: "h", LinkName: "later"}, {Type: toc.TypeReg, Name: "later"}}, ErrLinkOrder,
			`apply "h": link target "later" is not created by an earlier entry`},
		{"link to itself", []toc.Entry{{Type: toc.TypeHardlink, Name: "self", LinkName: "./self"}}, ErrLinkOrder, `apply "self": link target "./self" is not created`},
		{"link to nothing", []toc.Entry{{Type: toc.TypeHardlink, Name: "h", LinkName: "nothing"}}, ErrLinkOrder, `link target "nothing" is not created`},
	} {
		t.Run(c.name, func(t *testing.T) {
			es := append(append([]toc.Entry{}, base...), c.extra...)
			err, fromFinish := bindAll(t, t.TempDir(), es)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *ConflictError
			if !fromFinish || !errors.Is(err, c.want) || !errors.As(err, &ce) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%v (from Finish: %v), want %v: %s", err, fromFinish, c.want, c.msg)
			}
		})
	}
}

// A replay that does not give back the bound entries is an error, not a
// wrong name.
func TestNamesReplayMismatch(t *testing.T) {
	smallNames(t, 2, 2)
	es := []toc.Entry{{Type: toc.TypeReg, Name: "a"}, {Type: toc.TypeReg, Name: "b"}, {Type: toc.TypeReg, Name: "c"}, {Type: toc.TypeReg, Name: "./a"}}
	for _, replay := range []Replay{nil, replayOf(es[:2]), replayOf([]toc.Entry{es[0], es[1], es[2], {Type: toc.TypeReg, Name: "z"}}),
		func(func(*toc.Entry) bool) error { return syscall.EIO }} {
		n := NewNames(t.TempDir())
		for i := range es {
			must(t, n.Add(&es[i]))
		}
		err := n.Finish(replay)
		if errors.Is(err, ErrDuplicateEntry) || !errors.Is(err, errReplay) && !errors.Is(err, syscall.EIO) {
			t.Errorf("%v, want errReplay or the replay's error", err)
		}
	}
}

// The binding's heap does not grow with the entry count: 16× the entries,
// about the same memory in use after adding them and after Finish.
func TestNamesMemory(t *testing.T) {
	inUse := func(count int) uint64 {
		n := NewNames(t.TempDir())
		defer n.Close()
		e := toc.Entry{Type: toc.TypeReg}
		for i := range count {
			e.Name = fmt.Sprintf("d%d/f%d", i%1000, i)
			if i%10 == 9 {
				e.Type, e.LinkName = toc.TypeHardlink, fmt.Sprintf("d%d/f%d", (i-9)%1000, i-9)
			}
			if err := n.Add(&e); err != nil {
				t.Fatal(err)
			}
			e.Type = toc.TypeReg
		}
		heap := testutil.HeapInUse()
		if err := n.Finish(nil); err != nil {
			t.Fatal(err)
		}
		runtime.KeepAlive(n)
		return heap
	}
	small, big := inUse(50_000), inUse(800_000)
	// 750k more entries at 16 bytes each (the sorted runs kept in memory
	// before) would be 11 MiB more.
	if big > small+3<<20 {
		t.Errorf("heap in use: %d KiB with 50k entries, %d KiB with 800k", small>>10, big>>10)
	}
}

// A temp dir that cannot hold the sort fails Add with the cause, once the
// map overflows.
func TestNamesTempDirUnusable(t *testing.T) {
	smallNames(t, 2, 2)
	notDir := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(notDir, nil, 0o600))
	n := NewNames(notDir)
	defer n.Close()
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		err = n.Add(&toc.Entry{Type: toc.TypeReg, Name: fmt.Sprint("f", i)})
	}
	if !errors.Is(err, syscall.ENOTDIR) || !strings.Contains(err.Error(), notDir) {
		t.Fatalf("sort in a file: %v, want ENOTDIR naming %s", err, notDir)
	}
}

// A full temp file system fails with ENOSPC, and the sort's space comes
// back with Finish or Close.
func TestNamesDiskFull(t *testing.T) {
	requireRoot(t)
	smallNames(t, 64, 1024)
	for _, finish := range []bool{true, false} {
		tmp := testutil.SmallTmpfs(t, "64k")
		before := testutil.FreeBlocks(t, tmp)
		n := NewNames(tmp)
		var err error
		for i := 0; i < 20000 && err == nil; i++ { // 480 KB of records
			err = n.Add(&toc.Entry{Type: toc.TypeReg, Name: fmt.Sprint("f", i)})
		}
		if err == nil && finish {
			err = n.Finish(nil)
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("finish=%v: %v, want ENOSPC", finish, err)
		}
		must(t, n.Close())
		if after := testutil.FreeBlocks(t, tmp); after != before {
			t.Errorf("finish=%v: %d blocks free after, %d before", finish, after, before)
		}
	}
}
