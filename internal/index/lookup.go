package index

import (
	"bytes"
	"encoding/binary"

	"github.com/opencontainers/go-digest"
)

// Location is where bytes with a given digest were when the layer was
// indexed: [Offset, Offset+Length) of Dir/Path. It is a hint; see the
// package documentation.
type Location struct {
	// Layer is the ID of the layer holding the bytes.
	Layer string
	// Dir is the layer's diff directory (absolute), as the store gave it at
	// Open.
	Dir string
	// Path is relative to Dir, cleaned, never empty, no leading "/".
	Path   string
	Offset int64
	Length int64
	// Whole: the location is the entire file (Offset 0, Length its size),
	// so it can be cloned or linked as is.
	Whole bool
}

// Lookup returns every location of d, one per layer at most, in layer
// order (see Open). Digests other than sha256 are never found. Safe for
// concurrent use; after Close it returns nil.
func (x *Index) Lookup(d digest.Digest) []Location {
	raw, ok := sha256Bytes(d)
	if !ok {
		return nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []Location
	for li, f := range x.blooms {
		if !mayContain(f, &raw) {
			continue
		}
		if i, ok := x.layers[li].find(&raw); ok {
			lf := x.layers[li]
			if l, ok := lf.location(i); ok {
				out = append(out, l)
			}
		}
	}
	return out
}

// File returns the first location holding d as a whole file: what
// whole-file reuse (clone, link, copy) needs.
func (x *Index) File(d digest.Digest) (Location, bool) {
	return x.first(d, true)
}

// Chunk returns the first location holding d, a whole file or part of one:
// what chunk reuse (read Length bytes at Offset) needs.
func (x *Index) Chunk(d digest.Digest) (Location, bool) {
	return x.first(d, false)
}

func (x *Index) first(d digest.Digest, whole bool) (Location, bool) {
	raw, ok := sha256Bytes(d)
	if !ok {
		return Location{}, false
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	for li, f := range x.blooms {
		if !mayContain(f, &raw) {
			continue
		}
		lf := x.layers[li]
		i, ok := lf.find(&raw)
		if !ok {
			continue
		}
		if l, ok := lf.location(i); ok && (l.Whole || !whole) {
			return l, true
		}
	}
	return Location{}, false
}

// find locates the record of raw (after the Bloom filter said it may be
// there): fanout bucket, then binary search.
func (lf *layerFile) find(raw *[32]byte) (int, bool) {
	le := binary.LittleEndian
	b := int(raw[0])
	hi := int(le.Uint32(lf.fan[b*4:]))
	lo := 0
	if b > 0 {
		lo = int(le.Uint32(lf.fan[(b-1)*4:]))
	}
	// A damaged fanout must not send us outside the records.
	hi = min(hi, lf.n)
	lo = min(lo, hi)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(lf.recs[m*recordSize:m*recordSize+32], raw[:]) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < lf.n && bytes.Equal(lf.recs[lo*recordSize:lo*recordSize+32], raw[:]) {
		return lo, true
	}
	return 0, false
}

// location decodes record i; the path is copied out of the mapping so the
// result outlives Close. A record pointing outside the string table (only a
// crafted file passes the checksum with one) is not a location.
func (lf *layerFile) location(i int) (Location, bool) {
	le := binary.LittleEndian
	r := lf.recs[i*recordSize : (i+1)*recordSize]
	so, sl := uint64(le.Uint32(r[48:])), uint64(le.Uint16(r[52:]))
	if sl == 0 || so+sl > uint64(len(lf.strs)) {
		return Location{}, false
	}
	return Location{
		Layer:  lf.id,
		Dir:    lf.dir,
		Path:   string(lf.strs[so : so+sl]),
		Offset: int64(le.Uint64(r[32:]) & (1<<63 - 1)),
		Length: int64(le.Uint64(r[40:]) & (1<<63 - 1)),
		Whole:  le.Uint16(r[54:])&flagWhole != 0,
	}, true
}
