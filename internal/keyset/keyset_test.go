package keyset

import (
	"crypto/sha256"
	"encoding/binary"
	"os"
	"runtime"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
)

func key(i uint64) Key {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], i)
	s := sha256.Sum256(b[:])
	return Key(s[:16])
}

func TestRepeated(t *testing.T) {
	for _, n := range []int{0, 1, 10, BufferKeys - 1, BufferKeys, 3*BufferKeys + 7} {
		for _, dupAt := range []int{-1, 0, n / 2, n - 1} {
			if dupAt >= n {
				continue
			}
			dir := t.TempDir()
			s := New(dir)
			for i := range n {
				if err := s.Add(key(uint64(i))); err != nil {
					t.Fatal(err)
				}
			}
			if dupAt >= 0 {
				// The repeat comes last: in another run than the original
				// when the set spilled.
				if err := s.Add(key(uint64(dupAt))); err != nil {
					t.Fatal(err)
				}
			}
			k, found, err := s.Repeated()
			if err != nil {
				t.Fatal(err)
			}
			if found != (dupAt >= 0) || (found && k != key(uint64(dupAt))) {
				t.Errorf("n=%d dup at %d: found %v %x", n, dupAt, found, k)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("temp dir not empty: %v", left)
			}
		}
	}
}

// The heap does not grow with the key count: 16× the keys, about the same
// memory in use after adding them all and while merging.
func TestMemoryIndependentOfCount(t *testing.T) {
	inUse := func(n int) uint64 {
		s := New(t.TempDir())
		defer s.Close()
		for i := range n {
			if err := s.Add(key(uint64(i))); err != nil {
				t.Fatal(err)
			}
		}
		heap := testutil.HeapInUse()
		if _, found, err := s.Repeated(); err != nil || found {
			t.Fatal(err, found)
		}
		runtime.KeepAlive(s)
		return heap
	}
	small, big := inUse(4*BufferKeys), inUse(64*BufferKeys)
	// 64 × 64k keys as a map or slice would be 64 MiB more.
	if big > small+8<<20 {
		t.Errorf("heap in use: %d MiB with 256k keys, %d MiB with 4M keys", small>>20, big>>20)
	}
}
