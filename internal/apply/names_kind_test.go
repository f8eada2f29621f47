package apply

import (
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/stretchr/testify/assert"
)

// The binding keeps one byte per entry type and gives back the type's name.
func TestNamesKinds(t *testing.T) {
	assert.Equal(t, toc.TypeDir, kindDir.String())
	for _, typ := range []string{toc.TypeReg, toc.TypeDir, toc.TypeSymlink, toc.TypeHardlink, toc.TypeChar, toc.TypeBlock, toc.TypeFifo} {
		assert.Equal(t, typ, kindOf(typ).String())
	}
	assert.Equal(t, "other", kindOf("weird").String())
}

// TestNamesRuns binds enough entries to fill several sorted runs and
// merge them: duplicates and link targets are found wherever they are
// kept, with their kinds.
func TestNamesRuns(t *testing.T) {
	n := NewNames()
	const total = namesRecent*6 + 123
	for i := range total {
		typ := toc.TypeReg
		if i%3 == 0 {
			typ = toc.TypeDir
		}
		if err := n.Add(&toc.Entry{Type: typ, Name: fmt.Sprintf("d%d/e%d", i%97, i)}); err != nil {
			t.Fatal(err)
		}
	}
	if len(n.runs) < 2 || len(n.recent) == 0 {
		t.Fatalf("%d runs, %d recent: the test does not cover runs", len(n.runs), len(n.recent))
	}
	for _, i := range []int{0, 1, 2, namesRecent, namesRecent*4 + 7, total - 2, total - 1} {
		name := fmt.Sprintf("d%d/e%d", i%97, i)
		if err := n.Add(&toc.Entry{Type: toc.TypeSymlink, Name: "./" + name}); !errors.Is(err, ErrDuplicateEntry) {
			t.Errorf("%s again: %v", name, err)
		}
		err := n.Add(&toc.Entry{Type: toc.TypeHardlink, Name: fmt.Sprint("link", i), LinkName: name})
		if i%3 == 0 {
			if err == nil || !errors.Is(err, ErrConflict) {
				t.Errorf("link to directory %s: %v", name, err)
			}
		} else if err != nil {
			t.Errorf("link to %s: %v", name, err)
		}
	}
	if err := n.Add(&toc.Entry{Type: toc.TypeHardlink, Name: "x", LinkName: "d1/e0"}); !errors.Is(err, ErrLinkOrder) {
		t.Errorf("link to a path never bound: %v", err)
	}
}

// TestNamesMemory fails if the binding costs more than 20 bytes an entry
// (a map of 16-byte keys cost 23 to 38).
func TestNamesMemory(t *testing.T) {
	const entries = 500000
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	n := NewNames()
	e := toc.Entry{Type: toc.TypeReg}
	for i := range entries {
		e.Name = fmt.Sprintf("d%d/f%d", i%1000, i)
		if err := n.Add(&e); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	per := float64(int64(ms.HeapAlloc)-int64(before)) / entries
	t.Logf("%.1f bytes an entry", per)
	if per > 20 {
		t.Errorf("%.1f bytes an entry", per)
	}
	runtime.KeepAlive(n)
}
