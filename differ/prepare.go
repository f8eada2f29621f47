package differ

import (
	"fmt"
	"sort"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/fetch"
	"github.com/chunkdiff/chunkdiff/internal/layout"
)

// plan is what the ready state holds: every entry in order, and the regular
// files whose contents must be fetched.
type plan struct {
	items []layout.Item
	// fetch[i] is the content of items[fetchItem[i]]; fetchOf is the
	// inverse (-1: nothing to fetch).
	fetch     []fetch.File
	fetchItem []int
	fetchOf   []int32
	uids      []uint32
	gids      []uint32
	// figures for the dump
	bytesPlanned int64 // compressed bytes the chunks cover (before merging)
	holeBytes    int64
}

// newPlan lays out the TOC and lists what to fetch. Entry owners are
// collected before any ID mapping, as upstream reports them. Without verify
// (a layer converted locally from a blob whose digest was checked) contents
// are not hashed again, as upstream.
func newPlan(items []layout.Item, verify bool) (*plan, error) {
	p := &plan{items: items, fetchOf: make([]int32, len(items))}
	uids, gids := map[uint32]struct{}{}, map[uint32]struct{}{}
	for i := range items {
		e := &items[i].Entry
		p.fetchOf[i] = -1
		uids[uint32(e.UID)] = struct{}{}
		gids[uint32(e.GID)] = struct{}{}
		if e.Type != toc.TypeReg || len(items[i].Chunks) == 0 {
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
		f.Chunks = make([]fetch.Chunk, 0, len(items[i].Chunks))
		for j := range items[i].Chunks {
			c := &items[i].Chunks[j]
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
		p.fetchOf[i] = int32(len(p.fetch))
		p.fetch = append(p.fetch, f)
		p.fetchItem = append(p.fetchItem, i)
		// The fetch list is the one copy of the chunks from here on.
		items[i].Chunks = nil
	}
	p.uids, p.gids = sortedIDs(uids), sortedIDs(gids)
	return p, nil
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
		"entries":        int64(len(p.items)),
		"files_to_fetch": int64(len(p.fetch)),
		"bytes_planned":  p.bytesPlanned,
		"hole_bytes":     p.holeBytes,
	}
}
