package differ

import (
	"errors"
	"fmt"
	"sort"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/apply"
	"github.com/chunkdiff/chunkdiff/internal/fetch"
	"github.com/chunkdiff/chunkdiff/internal/layout"
	"github.com/chunkdiff/chunkdiff/internal/offsets"
)

// plan is what the ready state holds: the spooled layout (every entry in
// order, read back from disk as needed), and where the regular files whose
// contents must be fetched are in it. Nothing in it grows in memory with
// the entry count: fetchAt spills to a temp file past 64 KiB, local is on
// disk. close releases it.
type plan struct {
	layout  *layout.Layout
	entries int
	verify  bool
	// fetchAt[k] is the record offset of fetch file k; the fetched files
	// are exactly the regular files with chunks, in layout order.
	fetchAt *offsets.List
	// local holds, by fetch index, the chunks reuse planning found in the
	// store (set while planning, read-only after).
	local localChunks
	// tempDir is where the plan and reuse planning spill.
	tempDir string
	uids    []uint32
	gids    []uint32
	// regularBytes is the file content the layer declares (CheckFits).
	regularBytes uint64
	// figures for the dump
	bytesPlanned int64 // compressed bytes the chunks cover (before merging)
	holeBytes    int64
}

// fetched reports whether it is a file whose content is fetched (or
// reused): a regular file with chunks.
func fetched(it *layout.Item) bool {
	return it.Entry.Type == toc.TypeReg && len(it.Chunks) > 0
}

// newPlan finds what to fetch in the layout. Entry owners are collected
// before any ID mapping, as upstream reports them. Without verify (a layer
// converted locally from a blob whose digest was checked) contents are not
// hashed again, as upstream. The plan spills to tempDir; it is to be closed
// unless newPlan fails.
func newPlan(l *layout.Layout, verify bool, tempDir string) (_ *plan, err error) {
	p := &plan{layout: l, entries: l.Len(), verify: verify, fetchAt: offsets.New(tempDir), tempDir: tempDir}
	defer func() {
		if err != nil {
			_ = p.close()
		}
	}()
	uids, gids := map[uint32]struct{}{}, map[uint32]struct{}{}
	s := l.Scan()
	for s.Next() {
		it := s.Item()
		e := &it.Entry
		uids[uint32(e.UID)] = struct{}{}
		gids[uint32(e.GID)] = struct{}{}
		if e.Type == toc.TypeReg {
			p.regularBytes = apply.SumSizes(p.regularBytes, e.Size)
		}
		if !fetched(it) {
			continue
		}
		if e.Digest == "" {
			// Without a digest nothing would verify what we write.
			return nil, fmt.Errorf("regular file %q has content but no digest in the TOC", e.Name)
		}
		for j := range it.Chunks {
			c := &it.Chunks[j]
			if c.Zeros {
				p.holeBytes += c.Size
			} else {
				p.bytesPlanned += c.End - c.Offset
			}
		}
		if err := p.fetchAt.Append(s.Offset()); err != nil {
			return nil, fmt.Errorf("listing the files to fetch: %w", err)
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	p.uids, p.gids = sortedIDs(uids), sortedIDs(gids)
	return p, nil
}

// close releases the plan's temp file (not the layout, which the loaded
// layer owns). It may be called more than once.
func (p *plan) close() error {
	return errors.Join(p.fetchAt.Close(), p.local.close())
}

// file reads fetch file k, whose record is at off, back from the layout:
// the file's chunks, with the local ones reuse found.
func (p *plan) file(off int64, k int) (*fetch.File, error) {
	f, _, err := p.readFile(off)
	if err != nil {
		return nil, err
	}
	if err := p.local.fill(k, f); err != nil {
		return nil, err
	}
	return f, nil
}

// readFile is file without the local chunks (reuse planning, which finds
// them, reads each file once).
func (p *plan) readFile(off int64) (*fetch.File, *toc.Entry, error) {
	it, err := p.layout.ReadAt(off)
	if err != nil {
		return nil, nil, err
	}
	e := &it.Entry
	f := &fetch.File{Name: e.Name, Size: e.Size, Digest: e.Digest, Chunks: make([]fetch.Chunk, len(it.Chunks))}
	if !p.verify {
		f.Digest = ""
	}
	for j := range it.Chunks {
		f.Chunks[j] = fetchChunk(&it.Chunks[j])
		if !p.verify {
			f.Chunks[j].Digest = ""
		}
	}
	return f, e, nil
}

// files is a list of fetch files by record offset, read on demand; ks
// holds their fetch indices (nil: at is the plan's fetchAt, the index is
// the position).
type files struct {
	p      *plan
	at, ks *offsets.List
}

func (l files) Len() int { return l.at.Len() }

func (l files) File(i int) (*fetch.File, error) {
	off, err := l.at.At(i)
	if err != nil {
		return nil, err
	}
	k := i
	if l.ks != nil {
		v, err := l.ks.At(i)
		if err != nil {
			return nil, err
		}
		k = int(v)
	}
	return l.p.file(off, k)
}

func sortedIDs(m map[uint32]struct{}) []uint32 {
	out := make([]uint32, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (p *plan) sizes() map[string]int64 {
	return map[string]int64{
		"entries":        int64(p.entries),
		"files_to_fetch": int64(p.fetchAt.Len()),
		"bytes_planned":  p.bytesPlanned,
		"hole_bytes":     p.holeBytes,
	}
}
