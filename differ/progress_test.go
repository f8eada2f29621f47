package differ

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// shuffledWithin is 0..n-1 with each run of window indices shuffled: the
// order in which a fetch planning window at a time completes files.
func shuffledWithin(n, window int, r *rand.Rand) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	for lo := 0; lo < n; lo += window {
		w := out[lo:min(lo+window, n)]
		r.Shuffle(len(w), func(a, b int) { w[a], w[b] = w[b], w[a] })
	}
	return out
}

// The done set's memory follows the out-of-order window, not the count:
// a million files completed a 16384-file window at a time keep at most a
// few windows' bits.
func TestDoneSetBoundedByWindow(t *testing.T) {
	const n, window = 1 << 20, 16384
	r := rand.New(rand.NewPCG(1, 2))
	for _, order := range [][]int{shuffledWithin(n, 1, r), shuffledWithin(n, window, r)} {
		var s doneSet
		maxWords := 0
		for _, i := range order {
			if s.has(i) {
				t.Fatalf("%d complete before it was added", i)
			}
			if !s.add(i) || s.add(i) {
				t.Fatalf("add(%d) did not report it new exactly once", i)
			}
			if !s.has(i) {
				t.Fatalf("%d not complete after add", i)
			}
			maxWords = max(maxWords, cap(s.bits))
		}
		if s.low != n || s.bits != nil {
			t.Errorf("watermark %d of %d, %d words left", s.low, n, len(s.bits))
		}
		// One bit per index would be n/64 = 16384 words.
		if maxWords > 4*window/64 {
			t.Errorf("up to %d words held for a window of %d indices", maxWords, window)
		}
	}
}

func TestDoneSetOutOfOrder(t *testing.T) {
	var s doneSet
	for _, i := range []int{5, 130, 64, 3, 0, 1, 2, 4} {
		s.add(i)
	}
	for i := range 200 {
		want := i <= 5 || i == 64 || i == 130
		if s.has(i) != want {
			t.Errorf("has(%d) = %v", i, !want)
		}
	}
	if s.low != 6 {
		t.Errorf("watermark %d, want 6", s.low)
	}
}

// The reassembly waits for each fetched file in order; completions in
// order, in reverse or shuffled each release it exactly when the file it
// waits for is complete.
func TestProgressReleasesWaiters(t *testing.T) {
	const n = 3000
	name := func(i int) (string, error) { return "f" + strconv.Itoa(i), nil }
	r := rand.New(rand.NewPCG(3, 4))
	orders := map[string][]int{"in order": shuffledWithin(n, 1, r), "shuffled": shuffledWithin(n, n, r), "windows": shuffledWithin(n, 64, r)}
	rev := make([]int, n)
	for i := range rev {
		rev[i] = n - 1 - i
	}
	orders["reverse"] = rev
	for what, order := range orders {
		t.Run(what, func(t *testing.T) {
			p := newProgress(n, name, nil)
			var marked [n]atomic.Bool
			var wg sync.WaitGroup
			wg.Go(func() {
				for _, i := range order {
					marked[i].Store(true)
					p.complete(i)
				}
			})
			for i := range n {
				if i%7 == 0 { // not fetched: no wait
					if at, err := p.wait("other" + strconv.Itoa(i)); err != nil || at != "other"+strconv.Itoa(i) {
						t.Fatalf("unfetched name: %q, %v", at, err)
					}
				}
				nm, _ := name(i)
				if at, err := p.wait(nm); err != nil || at != nm {
					t.Fatalf("wait(%s) = %q, %v", nm, at, err)
				}
				if !marked[i].Load() {
					t.Fatalf("wait(%s) returned before the file was complete", nm)
				}
			}
			wg.Wait()
		})
	}
}

func TestProgressFailReleasesWaiters(t *testing.T) {
	name := func(i int) (string, error) { return "f" + strconv.Itoa(i), nil }
	cause := errors.New("fetch failed")
	for _, flat := range []bool{false, true} {
		var p *progress
		if flat {
			p = newProgress(3, nil, func(string) (string, error) { return "ab/cd", nil })
		} else {
			p = newProgress(3, name, nil)
		}
		p.complete(2)
		p.complete(1)
		done := make(chan error)
		go func() {
			_, err := p.wait("f0")
			done <- err
		}()
		p.fail(cause)
		if err := <-done; !errors.Is(err, cause) {
			t.Errorf("flat %v: wait ended with %v", flat, err)
		}
	}
}
