package index

import (
	"errors"
	"fmt"
	"io"

	"github.com/chunkdiff/chunkdiff/formats/toc"
)

// Names upstream drops from eStargz TOCs before applying (FORMATS.md "estargz-toc"):
// they are not in the layer's directory.
var estargzSkip = map[string]bool{
	".prefetch.landmark":    true,
	".no.prefetch.landmark": true,
	"stargz.index.json":     true,
}

// fileState follows the regular file whose chunk entries are being read.
type fileState struct {
	name   string // TOC name, to match chunk entries
	path   string // where it is in the layer dir
	size   int64
	used   int64 // bytes covered by the chunks seen so far
	broken bool  // chunks inconsistent: index no more of them
}

// buildFromTOC streams the TOC JSON (FORMATS.md "toc-schema", "chunk-ranges") and records every
// regular file and data chunk. It derives chunk sizes like the reader rules
// (chunkSize, or the rest of the file) but needs no blob offsets, so it does
// not use internal/layout, which validates them and holds all entries.
// Chunks that do not add up are dropped, not fatal: the layer was already
// applied, and callers verify what they reuse anyway.
func buildFromTOC(r io.Reader, flat bool) (*builder, error) {
	b := &builder{}
	dec := toc.NewDecoder(r)
	var cur fileState
	for {
		e, err := dec.Next()
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the TOC: %w", err)
		}
		switch e.Type {
		case toc.TypeReg:
			cur = fileState{}
			if e.Size <= 0 || estargzSkip[e.Name] {
				continue
			}
			p, ok := layerPath(e.Name)
			if ok && flat {
				p, ok = flatPath(e.Digest)
			}
			if !ok {
				b.skipped++
				continue
			}
			cur = fileState{name: e.Name, path: p, size: e.Size}
			b.add(e.Digest, p, 0, e.Size, true)
			if e.ChunkDigest != "" && e.ChunkDigest != e.Digest {
				addChunk(b, &cur, e)
			}
		case toc.TypeChunk:
			if cur.path == "" || cur.broken || e.Name != cur.name {
				continue
			}
			addChunk(b, &cur, e)
		default:
			cur = fileState{}
		}
	}
}

func addChunk(b *builder, cur *fileState, e *toc.Entry) {
	size := e.ChunkSize
	if size <= 0 {
		size = cur.size - cur.used // "the rest of the file"
	}
	// The reg entry describes chunk 0 and may leave chunkOffset out.
	if e.ChunkOffset != cur.used || size <= 0 || size > cur.size-cur.used {
		cur.broken = true
		b.skipped++
		return
	}
	if e.ChunkType != toc.ChunkTypeZeros {
		b.add(e.ChunkDigest, cur.path, cur.used, size, false)
	}
	cur.used += size
}
