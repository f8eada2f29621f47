package differ

import (
	"fmt"
	"sort"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/apply"
	"github.com/chunkdiff/chunkdiff/internal/fetch"
	"github.com/chunkdiff/chunkdiff/internal/layout"
)

// plan is what the ready state holds: the spooled layout (every entry in
// order, read back from disk as needed), and the regular files whose
// contents must be fetched.
type plan struct {
	layout  *layout.Layout
	entries int
	// fetch[k] is the content of the item whose record is at fetchAt[k];
	// the fetched files are exactly the regular files with chunks, in
	// layout order.
	fetch   []fetch.File
	fetchAt []int64
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

// newPlan lists what to fetch from the layout. Entry owners are collected
// before any ID mapping, as upstream reports them. Without verify (a layer
// converted locally from a blob whose digest was checked) contents are not
// hashed again, as upstream.
func newPlan(l *layout.Layout, verify bool) (*plan, error) {
	p := &plan{layout: l, entries: l.Len(),
		fetch: make([]fetch.File, 0, l.Files()), fetchAt: make([]int64, 0, l.Files())}
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
		f := fetch.File{Name: e.Name, Size: e.Size, Digest: e.Digest}
		if !verify {
			f.Digest = ""
		}
		f.Chunks = make([]fetch.Chunk, 0, len(it.Chunks))
		for j := range it.Chunks {
			c := &it.Chunks[j]
			fc := fetchChunk(c)
			if !verify {
				fc.Digest = ""
			}
			f.Chunks = append(f.Chunks, fc)
			if c.Zeros {
				p.holeBytes += c.Size
			} else {
				p.bytesPlanned += c.End - c.Offset
			}
		}
		p.fetch = append(p.fetch, f)
		p.fetchAt = append(p.fetchAt, s.Offset())
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	p.uids, p.gids = sortedIDs(uids), sortedIDs(gids)
	return p, nil
}

// entry reads fetch file k's entry back from the layout.
func (p *plan) entry(k int) (*toc.Entry, error) {
	it, err := p.layout.ReadAt(p.fetchAt[k])
	if err != nil {
		return nil, err
	}
	return &it.Entry, nil
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
		"files_to_fetch": int64(len(p.fetch)),
		"bytes_planned":  p.bytesPlanned,
		"hole_bytes":     p.holeBytes,
	}
}
