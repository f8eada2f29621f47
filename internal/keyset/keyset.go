// Package keyset finds a repeated key among a stream of fixed-size keys
// (name hashes) with memory bounded by a constant, whatever the count: keys
// are buffered, a full buffer is sorted and written to an unlinked temp file
// as a run, and Repeated merges the runs. Up to BufferKeys keys never touch
// the disk. The external sort itself (Sorter) serves other fixed-size
// records too (internal/apply's name binding).
//
// Memory: BufferKeys × 16 bytes (1 MiB) while adding, plus a 16 KiB read
// buffer per run while merging (a run per BufferKeys keys: 256 KiB for a
// million keys). Disk: 16 bytes per key beyond the first buffer.
package keyset

import (
	"bytes"
)

// Key is a 16-byte key, e.g. 128 bits of a name's SHA-256.
type Key [16]byte

// BufferKeys is how many keys are kept in memory before a run is spilled.
const BufferKeys = 64 << 10

const runReadBuffer = 16 << 10

// Set collects keys; the zero value is not usable, see New.
type Set struct {
	s *Sorter[Key]
}

// New returns an empty set spilling to tempDir (os.TempDir() if empty).
func New(tempDir string) *Set {
	return &Set{s: NewSorter(tempDir, BufferKeys, compareKeys, func(k *Key) []byte { return k[:] })}
}

func compareKeys(a, b Key) int { return bytes.Compare(a[:], b[:]) }

// Add adds k.
func (s *Set) Add(k Key) error { return s.s.Add(k) }

// Repeated reports a key added more than once (the smallest such key), if
// any. It is to be called once, after the last Add.
func (s *Set) Repeated() (Key, bool, error) {
	m, err := s.s.Merge()
	if err != nil {
		return Key{}, false, err
	}
	var prev Key
	for first := true; ; first = false {
		k, ok, err := m.Next()
		if err != nil || !ok {
			return Key{}, false, err
		}
		if !first && k == prev {
			return k, true, nil
		}
		prev = k
	}
}

// Close releases the temp file.
func (s *Set) Close() error { return s.s.Close() }
