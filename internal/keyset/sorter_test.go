package keyset

import (
	"cmp"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// rec24 is a 24-byte record ordered by its first 8 bytes as a big-endian
// number, the rest a payload that comes back with it.
type rec24 [24]byte

func cmpRec24(a, b rec24) int {
	return cmp.Compare(binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8]))
}

func newRec24Sorter(dir string, buffer int) *Sorter[rec24] {
	return NewSorter(dir, buffer, cmpRec24, func(r *rec24) []byte { return r[:] })
}

// Records come back in order with their payloads, whether they stayed in
// memory or were merged from several runs.
func TestSorterOrder(t *testing.T) {
	for _, n := range []int{0, 1, 99, 100, 101, 1234} {
		dir := t.TempDir()
		s := newRec24Sorter(dir, 100)
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		var want []uint64
		for range n {
			v := rng.Uint64()
			want = append(want, v)
			var r rec24
			binary.BigEndian.PutUint64(r[:8], v)
			binary.LittleEndian.PutUint64(r[16:], ^v)
			if err := s.Add(r); err != nil {
				t.Fatal(err)
			}
		}
		if s.Spilled() != (n >= 100) {
			t.Errorf("n=%d: spilled %v", n, s.Spilled())
		}
		slices.Sort(want)
		m, err := s.Merge()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			r, ok, err := m.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				if i != n {
					t.Errorf("n=%d: %d records back", n, i)
				}
				break
			}
			v := binary.BigEndian.Uint64(r[:8])
			if i >= n || v != want[i] || binary.LittleEndian.Uint64(r[16:]) != ^v {
				t.Fatalf("n=%d: record %d = %x", n, i, r)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("temp dir not empty: %v", left)
		}
	}
}

// A temp dir that cannot hold a file fails the spill with the cause
// wrapped; below the buffer the disk is never needed.
func TestSorterTempDirUnusable(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := newRec24Sorter(notDir, 4)
	defer s.Close()
	for i := range 3 {
		if err := s.Add(rec24{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	err := s.Add(rec24{3})
	if !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("spill into a file: %v, want ENOTDIR", err)
	}
}
