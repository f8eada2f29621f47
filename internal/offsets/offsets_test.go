package offsets

import (
	"errors"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
)

// value is what index i holds in the tests: distinct, with high bits set.
func value(i int) int64 { return int64(i)*0x2545F4914F6CDD1D ^ -1<<40 }

func fill(t testing.TB, l *List, n int) {
	t.Helper()
	for i := range n {
		if err := l.Append(value(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, PageValues + 1, BufferValues - 1, BufferValues, BufferValues + 1, 3*BufferValues + PageValues/2 + 7} {
		dir := t.TempDir()
		l := New(dir)
		fill(t, l, n)
		if l.Len() != n {
			t.Fatalf("n=%d: Len %d", n, l.Len())
		}
		if spilled := l.f != nil; spilled != (n > BufferValues) {
			t.Errorf("n=%d: spilled %v", n, spilled)
		}
		check := func(i int) {
			v, err := l.At(i)
			if err != nil || v != value(i) {
				t.Fatalf("n=%d: At(%d) = %d, %v; want %d", n, i, v, err, value(i))
			}
		}
		for i := range n { // ascending
			check(i)
		}
		for i := n - 1; i >= 0; i-- { // descending: every page evicted in turn
			check(i)
		}
		r := rand.New(rand.NewPCG(1, uint64(n)))
		for range min(n, 2000) {
			check(r.IntN(n))
		}
		for _, i := range []int{-1, n} {
			if _, err := l.At(i); err == nil {
				t.Errorf("n=%d: At(%d) did not fail", n, i)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("temp dir not empty: %v", left)
		}
	}
}

// Readers run at once (fetch workers, each a little behind the planner),
// after the appends: run with -race.
func TestConcurrentReads(t *testing.T) {
	l := New(t.TempDir())
	defer l.Close()
	n := 3*BufferValues + 3
	fill(t, l, n)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(2, uint64(w)))
			for i := w * 100; i < n; i += 3 {
				j := i
				if r.IntN(64) == 0 {
					j = r.IntN(n)
				}
				if v, err := l.At(j); err != nil || v != value(j) {
					errs <- errors.Join(err, errors.New("wrong value"))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// A failing temp file is reported by Append (writing) and At (reading
// back), never a panic or a wrong value.
func TestDiskErrors(t *testing.T) {
	l := New(t.TempDir() + "/missing")
	fill(t, l, BufferValues) // in memory: the dir is not needed yet
	if err := l.Append(1); err == nil {
		t.Fatal("spilling into a missing dir did not fail")
	}
	if l.Len() != BufferValues {
		t.Fatalf("a failed Append added a value: Len %d", l.Len())
	}

	l = New(t.TempDir())
	defer l.Close()
	fill(t, l, 2*BufferValues+1)
	_ = l.f.Close() // the file fails under the list
	if _, err := l.At(0); err == nil {
		t.Error("reading back from a closed file did not fail")
	}
	if v, err := l.At(2 * BufferValues); err != nil || v != value(2*BufferValues) {
		t.Errorf("the buffered tail: %d, %v", v, err)
	}
	for range BufferValues - 1 { // the buffer has room
		if err := l.Append(0); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Append(0); err == nil {
		t.Error("writing to a closed file did not fail")
	}
}

// The heap does not grow with the length: 64× the values, about the same
// memory in use after appending them all and while reading them back.
func TestMemoryIndependentOfCount(t *testing.T) {
	inUse := func(n int) uint64 {
		l := New(t.TempDir())
		defer l.Close()
		fill(t, l, n)
		for i := 0; i < n; i += 97 {
			if _, err := l.At(i); err != nil {
				t.Fatal(err)
			}
		}
		heap := testutil.HeapInUse()
		runtime.KeepAlive(l)
		return heap
	}
	small, big := inUse(4*BufferValues), inUse(256*BufferValues)
	// 2M values in a slice would be 16 MiB more.
	if big > small+4<<20 {
		t.Errorf("heap in use: %d KiB with 32k values, %d KiB with 2M values", small>>10, big>>10)
	}
}
