package keyset

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// FirstOccurrences answers "is this the first entry with its key?" for a
// stream of (key, position) pairs, with memory bounded by a constant: the
// pairs are sorted by key (and position), the first position of each key
// is sorted again by position, and Positions yields those in ascending
// order, to be walked alongside a second pass over the entries. (The Flat
// format creates one file per distinct digest, at the digest's first
// entry.)
//
// Memory: two sort buffers of BufferKeys records (24 and 8 bytes) and the
// merges' read buffers (16 KiB a run). Disk: 24 bytes a pair and 8 bytes
// a distinct key beyond the buffers.
type FirstOccurrences struct {
	dir    string
	byKey  *Sorter[keyPos]
	byPos  *Sorter[position]
	merged bool
}

// keyPos is a key and a big-endian position: bytes order them by key,
// then position.
type keyPos [24]byte

// position is a big-endian position (not negative).
type position [8]byte

// NewFirstOccurrences returns an empty set spilling to tempDir.
func NewFirstOccurrences(tempDir string) *FirstOccurrences {
	return &FirstOccurrences{
		dir:   tempDir,
		byKey: NewSorter(tempDir, BufferKeys, func(a, b keyPos) int { return bytes.Compare(a[:], b[:]) }, func(r *keyPos) []byte { return r[:] }),
	}
}

// Add records that the entry at pos (not negative) has key k.
func (f *FirstOccurrences) Add(k Key, pos int64) error {
	if pos < 0 {
		return fmt.Errorf("keyset: negative position %d", pos)
	}
	var r keyPos
	copy(r[:16], k[:])
	binary.BigEndian.PutUint64(r[16:], uint64(pos))
	return f.byKey.Add(r)
}

// Positions returns the first position of every key, ascending. It is to
// be called once, after the last Add; the iterator is valid until Close.
func (f *FirstOccurrences) Positions() (*Positions, error) {
	if f.merged {
		return nil, errors.New("keyset: Positions called twice")
	}
	f.merged = true
	m, err := f.byKey.Merge()
	if err != nil {
		return nil, err
	}
	f.byPos = NewSorter(f.dir, BufferKeys, func(a, b position) int { return bytes.Compare(a[:], b[:]) }, func(r *position) []byte { return r[:] })
	var prev Key
	for first := true; ; first = false {
		r, ok, err := m.Next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if !first && bytes.Equal(r[:16], prev[:]) {
			continue // a later entry with the same key
		}
		copy(prev[:], r[:16])
		var p position
		copy(p[:], r[16:])
		if err := f.byPos.Add(p); err != nil {
			return nil, err
		}
	}
	if err := f.byKey.Close(); err != nil { // its runs are read: give the space back
		return nil, fmt.Errorf("keyset: %w", err)
	}
	pm, err := f.byPos.Merge()
	if err != nil {
		return nil, err
	}
	return &Positions{m: pm}, nil
}

// Close releases the temp files.
func (f *FirstOccurrences) Close() error {
	err := f.byKey.Close()
	if f.byPos != nil {
		err = errors.Join(err, f.byPos.Close())
	}
	return err
}

// Positions yields first positions in ascending order.
type Positions struct {
	m *Merge[position]
}

// Next returns the next first position, false after the last.
func (p *Positions) Next() (int64, bool, error) {
	r, ok, err := p.m.Next()
	if err != nil || !ok {
		return 0, false, err
	}
	return int64(binary.BigEndian.Uint64(r[:])), true, nil
}
