package keyset

import (
	"encoding/binary"
	"math/rand"
	"slices"
	"testing"
)

// firstPositions is the in-memory answer: for keys given at positions
// 0, 1, 2, …, the position of each key's first occurrence, ascending.
func firstPositions(keys []Key) []int64 {
	seen := map[Key]bool{}
	var out []int64
	for i, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, int64(i))
		}
	}
	return out
}

func TestFirstOccurrences(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 3*BufferKeys + 11} { // in memory, and across spills of both sorts
		rng := rand.New(rand.NewSource(int64(n)))
		keys := make([]Key, n)
		for i := range keys {
			// About half the entries repeat an earlier key.
			binary.BigEndian.PutUint64(keys[i][:], uint64(rng.Intn(n/2+1)))
		}
		f := NewFirstOccurrences(t.TempDir())
		// Added out of order, as concurrent producers would: the answer
		// does not depend on it.
		order := rng.Perm(n)
		for _, i := range order {
			if err := f.Add(keys[i], int64(i)); err != nil {
				t.Fatal(err)
			}
		}
		ps, err := f.Positions()
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for {
			p, ok, err := ps.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			got = append(got, p)
		}
		if want := firstPositions(keys); !slices.Equal(got, want) {
			t.Fatalf("n=%d: %d first positions, want %d (first difference near %v)", n, len(got), len(want), firstDiff(got, want))
		}
		if n > BufferKeys && !f.byPos.Spilled() && n/2 > BufferKeys {
			t.Errorf("n=%d: the positions were not spilled", n)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func firstDiff(a, b []int64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestFirstOccurrencesRefusesMisuse(t *testing.T) {
	f := NewFirstOccurrences(t.TempDir())
	defer f.Close()
	if err := f.Add(Key{}, -1); err == nil {
		t.Error("a negative position was accepted")
	}
	if _, err := f.Positions(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Positions(); err == nil {
		t.Error("Positions twice")
	}
}
