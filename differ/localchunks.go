package differ

import (
	"encoding/binary"
	"fmt"

	"github.com/chunkdiff/chunkdiff/internal/fetch"
)

// localChunks holds, for each fetch file with chunks found in the store,
// which chunks and where: a record each in fetchRecords (on disk, not in a
// map of every such file), read back when fetching reads the file's list
// (plan.file). The sources are opened through a bounded cache, not kept
// open per file.
type localChunks struct {
	*fetchRecords
	sources *sourceCache
}

// localChunk: chunk j of a file is at loc (offset and length) in the store.
type localChunk struct {
	j   int
	loc location
}

// localHeader: j (4 bytes), offset, length (8 each), flags (1), the
// lengths of dir and path (4 each); dir and path follow. A record is the
// chunk count (4 bytes) and its chunks.
const localHeader = 29

func newLocalChunks(tempDir string, files int, sources *sourceCache) localChunks {
	return localChunks{newFetchRecords("local chunks", tempDir, files), sources}
}

// add records fetch file k's local chunks; it may be called from several
// goroutines, once per fetch index.
func (lc localChunks) add(k int, chunks []localChunk) error {
	rec := binary.LittleEndian.AppendUint32(nil, uint32(len(chunks))) //nolint:gosec // a file's chunks, bounded by the layout
	for _, c := range chunks {
		rec = binary.LittleEndian.AppendUint32(rec, uint32(c.j))          //nolint:gosec // as above
		rec = binary.LittleEndian.AppendUint64(rec, uint64(c.loc.offset)) //nolint:gosec // an offset, not negative
		rec = binary.LittleEndian.AppendUint64(rec, uint64(c.loc.length)) //nolint:gosec // a length, not negative
		var flags byte
		if c.loc.trusted {
			flags = flagTrusted
		}
		rec = append(rec, flags)
		rec = binary.LittleEndian.AppendUint32(rec, uint32(len(c.loc.dir)))  //nolint:gosec // a path: far below 4 GiB
		rec = binary.LittleEndian.AppendUint32(rec, uint32(len(c.loc.path))) //nolint:gosec // a path: far below 4 GiB
		rec = append(append(rec, c.loc.dir...), c.loc.path...)
	}
	return lc.fetchRecords.add(k, rec)
}

// fill sets the local chunks of f, fetch file k, if it has any. Safe for
// concurrent use after finish.
func (lc localChunks) fill(k int, f *fetch.File) error {
	if lc.fetchRecords == nil {
		return nil // reuse was not planned
	}
	off, ok, err := lc.lookup(k)
	if err != nil || !ok {
		return err
	}
	rec, err := lc.read(off)
	if err != nil {
		return err
	}
	bad := func() error { return fmt.Errorf("local chunks of fetch file %d: a bad record at %d", k, off) }
	if len(rec) < 4 {
		return bad()
	}
	n := int(binary.LittleEndian.Uint32(rec))
	rec = rec[4:]
	for range n {
		if len(rec) < localHeader {
			return bad()
		}
		j := int(binary.LittleEndian.Uint32(rec))
		dl, pl := int(binary.LittleEndian.Uint32(rec[21:])), int(binary.LittleEndian.Uint32(rec[25:]))
		if j >= len(f.Chunks) || len(rec) < localHeader+dl+pl {
			return bad()
		}
		names := rec[localHeader:]
		loc := location{dir: string(names[:dl]), path: string(names[dl : dl+pl]),
			offset:  int64(binary.LittleEndian.Uint64(rec[4:])),  //nolint:gosec // written from an int64
			length:  int64(binary.LittleEndian.Uint64(rec[12:])), //nolint:gosec // written from an int64
			trusted: rec[20]&flagTrusted != 0}
		f.Chunks[j].Local, f.Chunks[j].LocalOffset = localSource{lc.sources, loc}, loc.offset
		rec = rec[localHeader+dl+pl:]
	}
	return nil
}

// close releases the records and closes the sources.
func (lc localChunks) close() error {
	if lc.sources != nil {
		lc.sources.close()
	}
	if lc.fetchRecords == nil {
		return nil
	}
	return lc.fetchRecords.close()
}
