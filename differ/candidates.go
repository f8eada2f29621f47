package differ

import (
	"encoding/binary"
	"fmt"
)

// candidates holds the whole-file candidates reuse planning found, a
// record each in fetchRecords: on disk, so that planning an update of a
// 1M-file layer keeps a constant in memory. The tree walk reads them back
// in fetch order, the copies read them at random and mark the ones that
// did not verify (rejected), whose files are fetched afterwards.
type candidates struct{ *fetchRecords }

// candidate is a whole file of the layer that may be in the store: fetch
// file k, its entry's record at in the layout, and where it may be.
type candidate struct {
	k    int
	at   int64
	loc  location // the whole file (offset and length are not kept)
	link bool     // hard-link it: its attributes matched while planning
}

// candidateHeader: k, at (8 bytes each), flags (1), the lengths of dir and
// path (4 each); dir and path follow.
const candidateHeader = 25

const (
	flagLink    = 1
	flagTrusted = 2
)

func newCandidates(tempDir string, files int) candidates {
	return candidates{newFetchRecords("reuse candidates", tempDir, files)}
}

// add records cand; it may be called from several goroutines, once per
// fetch index.
func (c candidates) add(cand candidate) error {
	rec := make([]byte, candidateHeader, candidateHeader+len(cand.loc.dir)+len(cand.loc.path))
	binary.LittleEndian.PutUint64(rec[0:], uint64(cand.k))  //nolint:gosec // an index, not negative
	binary.LittleEndian.PutUint64(rec[8:], uint64(cand.at)) //nolint:gosec // a record offset, not negative
	var flags byte
	if cand.link {
		flags |= flagLink
	}
	if cand.loc.trusted {
		flags |= flagTrusted
	}
	rec[16] = flags
	binary.LittleEndian.PutUint32(rec[17:], uint32(len(cand.loc.dir)))  //nolint:gosec // a path: far below 4 GiB
	binary.LittleEndian.PutUint32(rec[21:], uint32(len(cand.loc.path))) //nolint:gosec // a path: far below 4 GiB
	rec = append(append(rec, cand.loc.dir...), cand.loc.path...)
	return c.fetchRecords.add(cand.k, rec)
}

// read returns the candidate whose record is at off. Safe for concurrent
// use after finish.
func (c candidates) read(off int64) (candidate, error) {
	rec, err := c.fetchRecords.read(off)
	if err != nil {
		return candidate{}, err
	}
	if len(rec) < candidateHeader {
		return candidate{}, fmt.Errorf("reuse candidate at %d: %d bytes", off, len(rec))
	}
	dl := int(binary.LittleEndian.Uint32(rec[17:]))
	pl := int(binary.LittleEndian.Uint32(rec[21:]))
	if candidateHeader+dl+pl != len(rec) {
		return candidate{}, fmt.Errorf("reuse candidate at %d: %d bytes, names %d+%d", off, len(rec), dl, pl)
	}
	names := rec[candidateHeader:]
	flags := rec[16]
	return candidate{
		k:    int(binary.LittleEndian.Uint64(rec[0:])),   //nolint:gosec // written from an int
		at:   int64(binary.LittleEndian.Uint64(rec[8:])), //nolint:gosec // written from an int64
		loc:  location{dir: string(names[:dl]), path: string(names[dl:]), trusted: flags&flagTrusted != 0},
		link: flags&flagLink != 0,
	}, nil
}

// reject marks the candidate of fetch file k, at off, as not verified.
// Safe for concurrent use (one call per k) while nothing scans.
func (c candidates) reject(k int, off int64) error { return c.mark(k, off) }
