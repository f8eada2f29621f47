// Package layout turns a TOC into what applying a layer needs: every
// non-chunk entry in order, and for each regular file its payload chunks with
// their compressed byte ranges (FORMATS.md "chunk-ranges"). It is shared by zstd:chunked
// and eStargz; it reads no bytes of the blob.
package layout

import (
	"errors"
	"fmt"
	"io"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/opencontainers/go-digest"
)

// Chunk is one piece of a regular file's payload.
type Chunk struct {
	// Offset and End delimit the compressed bytes in the blob. The range may
	// include trailing frames (the next entry's headers); decoders stop after
	// Size bytes.
	Offset, End int64
	// FileOffset is where the chunk's bytes go in the file.
	FileOffset int64
	Size       int64
	// Digest of the chunk's uncompressed bytes; "" when the format gives
	// none (single-chunk zstd:chunked files: the file digest covers it).
	Digest digest.Digest
	// Zeros: a run of zero bytes, written as a hole, never fetched.
	Zeros bool
}

// Item is one non-chunk TOC entry; regular files with content carry their
// chunks.
type Item struct {
	Entry  toc.Entry
	Chunks []Chunk
}

// Options describe the blob the TOC belongs to.
type Options struct {
	// DataEnd is where the data section ends: the zstd:chunked TOC data
	// offset, or the eStargz TOC member offset. No payload lies beyond it.
	DataEnd int64
	// Skip lists entry names dropped entirely (eStargz landmarks and the TOC
	// entry itself).
	Skip map[string]bool
}

// Build reads every entry of dec and returns the items in TOC order.
//
// Ranges follow upstream's derivation (each chunk ends where the next one
// starts; a group's end comes from its last element, or else from the next
// entry with a payload), with one refinement: when a multi-chunk file's reg
// entry carries endOffset (the zstd:chunked writer always sets it), the last
// chunk ends there instead of at the next file's payload, so the next file's
// header frames are not fetched with it.
func Build(dec *toc.Decoder, opts Options) ([]Item, error) {
	if opts.DataEnd <= 0 {
		return nil, fmt.Errorf("layout: data section end %d is invalid", opts.DataEnd)
	}
	var (
		items []Item
		// groupEnd[i] is the explicit end of items[i]'s payload, or 0.
		groupEnd []int64
		last     = -1 // index of the reg item the next chunk entries belong to
		prevOff  int64
	)
	for n := 0; ; n++ {
		ep, err := dec.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		e := *ep
		if opts.Skip[e.Name] {
			continue
		}
		if e.Offset < 0 || e.Offset > opts.DataEnd || e.EndOffset < 0 || e.EndOffset > opts.DataEnd {
			return nil, fmt.Errorf("layout: entry %d (%q): payload offsets %d..%d outside the data section [0, %d]",
				n, e.Name, e.Offset, e.EndOffset, opts.DataEnd)
		}
		if e.Offset != 0 {
			// Ranges are derived from neighbours, so payloads must ascend.
			if e.Offset < prevOff {
				return nil, fmt.Errorf("layout: entry %d (%q): offset %d is before the previous payload at %d", n, e.Name, e.Offset, prevOff)
			}
			prevOff = e.Offset
		}
		switch {
		case e.Type == toc.TypeChunk:
			if last < 0 || items[last].Entry.Name != e.Name {
				return nil, fmt.Errorf("layout: entry %d: chunk of %q does not follow its regular file", n, e.Name)
			}
			if e.Offset == 0 {
				return nil, fmt.Errorf("layout: entry %d: chunk of %q has no offset", n, e.Name)
			}
			items[last].Chunks = append(items[last].Chunks, chunkOf(e))
			groupEnd[last] = e.EndOffset // chunk entries carry none: the last element decides
		case e.Type == toc.TypeReg && e.Size > 0:
			if e.Offset == 0 {
				return nil, fmt.Errorf("layout: entry %d: regular file %q of %d bytes has no payload offset", n, e.Name, e.Size)
			}
			items = append(items, Item{Entry: e, Chunks: []Chunk{chunkOf(e)}})
			groupEnd = append(groupEnd, e.EndOffset)
			last = len(items) - 1
		default:
			items = append(items, Item{Entry: e})
			groupEnd = append(groupEnd, 0)
			last = -1
		}
	}
	if err := finishRanges(items, groupEnd, opts.DataEnd); err != nil {
		return nil, err
	}
	return items, nil
}

func chunkOf(e toc.Entry) Chunk {
	return Chunk{
		Offset:     e.Offset,
		FileOffset: e.ChunkOffset,
		Size:       e.ChunkSize,
		Digest:     e.ChunkDigest,
		Zeros:      e.ChunkType == toc.ChunkTypeZeros,
	}
}

// finishRanges walks backwards computing each chunk's end and size.
func finishRanges(items []Item, groupEnd []int64, dataEnd int64) error {
	next := dataEnd
	for i := len(items) - 1; i >= 0; i-- {
		it := &items[i]
		if len(it.Chunks) == 0 {
			continue
		}
		end := groupEnd[i]
		if end == 0 {
			end = next
		}
		// The refinement: a multi-chunk file's reg entry knows where its
		// payload ends, which may be well before the next file's payload.
		if regEnd := it.Entry.EndOffset; len(it.Chunks) > 1 && regEnd > it.Chunks[len(it.Chunks)-1].Offset && regEnd < end {
			end = regEnd
		}
		var used int64
		for j := range it.Chunks {
			c := &it.Chunks[j]
			if j+1 < len(it.Chunks) {
				c.End = it.Chunks[j+1].Offset
			} else {
				c.End = end
			}
			if c.End < c.Offset {
				return fmt.Errorf("layout: %q chunk %d: range %d..%d ends before it starts", it.Entry.Name, j, c.Offset, c.End)
			}
			if c.Size <= 0 {
				c.Size = it.Entry.Size - used // "the rest of the file"
			}
			if c.FileOffset != used {
				if j == 0 && c.FileOffset == 0 {
					// fine: the reg entry describes chunk 0
				} else {
					return fmt.Errorf("layout: %q chunk %d starts at file offset %d, expected %d", it.Entry.Name, j, c.FileOffset, used)
				}
			}
			c.FileOffset = used
			used += c.Size
			if c.Size <= 0 || used > it.Entry.Size {
				return fmt.Errorf("layout: %q: chunk sizes exceed the file size %d", it.Entry.Name, it.Entry.Size)
			}
		}
		if used != it.Entry.Size {
			return fmt.Errorf("layout: %q: chunks cover %d of %d bytes", it.Entry.Name, used, it.Entry.Size)
		}
		// Chunks of one file never touch one another's frames in reverse.
		next = it.Chunks[0].Offset
	}
	return nil
}
