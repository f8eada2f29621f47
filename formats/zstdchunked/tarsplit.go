package zstdchunked

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/chunkdiff/chunkdiff/internal/diffid"
	"github.com/vbatts/tar-split/archive/tar"
	"github.com/vbatts/tar-split/tar/storage"
)

// tarSplitHeaders yields the tar headers recorded in a tar-split, one at a
// time, and sums the tar size (FORMATS.md "tar-size") on the way. It decodes the JSON
// lines itself rather than through storage.NewJSONUnpacker, whose duplicate
// check keeps every name in memory; uniqueness is checked against the TOC
// instead (the two must match one to one).
type tarSplitHeaders struct {
	dec     *json.Decoder
	padding int64 // padding of the previous file, at the start of the next segment
	size    int64 // uncompressed tar size so far
	pending *tar.Header
	entries int
	// ended: the end-of-archive blocks were seen; later segments are
	// trailing bytes of the stream, never headers.
	ended bool
}

func newTarSplitHeaders(r io.Reader) *tarSplitHeaders {
	return &tarSplitHeaders{dec: json.NewDecoder(bufio.NewReaderSize(diffid.LimitLines(r, diffid.MaxTarSplitLine), 64<<10))}
}

func (t *tarSplitHeaders) add(n int64) error {
	if n < 0 || t.size > math.MaxInt64-n {
		return fmt.Errorf("tar-split entry %d: size %d out of range", t.entries, n)
	}
	t.size += n
	return nil
}

// next returns the next header, or io.EOF at the end of the tar-split.
func (t *tarSplitHeaders) next() (*tar.Header, error) {
	for {
		var e storage.Entry
		if err := t.dec.Decode(&e); err != nil {
			if err == io.EOF {
				if t.pending != nil {
					return nil, fmt.Errorf("tar-split: header %q has no file entry", t.pending.Name)
				}
				return nil, io.EOF
			}
			return nil, fmt.Errorf("tar-split entry %d: %w", t.entries, err)
		}
		t.entries++
		switch e.Type {
		case storage.SegmentType:
			if err := t.add(int64(len(e.Payload))); err != nil {
				return nil, err
			}
			if t.pending != nil {
				return nil, fmt.Errorf("tar-split: header %q has no file entry", t.pending.Name)
			}
			if t.ended {
				continue
			}
			p := e.Payload
			if int64(len(p)) < t.padding {
				return nil, fmt.Errorf("tar-split entry %d: %d bytes, shorter than the previous file's padding %d", t.entries-1, len(p), t.padding)
			}
			p = p[t.padding:]
			t.padding = 0
			tr := tar.NewReader(bytes.NewReader(p))
			hdr, err := tr.Next()
			if err == io.EOF {
				t.ended = true // end-of-archive blocks
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("tar-split entry %d: decoding tar header: %w", t.entries-1, err)
			}
			t.padding = tr.ExpectedPadding()
			t.pending = hdr
			return hdr, nil
		case storage.FileType:
			// Every header is followed by its file entry; the tar size
			// counts the file entry's size, so it must be the header's.
			if err := t.add(e.Size); err != nil {
				return nil, err
			}
			if t.pending == nil || t.ended {
				return nil, fmt.Errorf("tar-split entry %d: file entry %q without a header", t.entries-1, e.GetName())
			}
			if e.GetName() != t.pending.Name { // the payload is read by this name: bind it to its header
				return nil, &InconsistentError{Name: t.pending.Name, Field: "payload name", TOC: fmt.Sprintf("%q (the header)", t.pending.Name), Tar: fmt.Sprintf("%q (the file entry)", e.GetName())}
			}
			if e.Size != t.pending.Size {
				return nil, fmt.Errorf("tar-split entry %d: file entry %q has size %d, its header %d", t.entries-1, e.GetName(), e.Size, t.pending.Size)
			}
			t.pending = nil
		default:
			return nil, fmt.Errorf("tar-split entry %d: unknown type %d", t.entries-1, e.Type)
		}
	}
}

// rest consumes the remaining entries; a further header is an error.
func rest(t headerSource) error {
	hdr, err := t.next()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	return &InconsistentError{Name: hdr.Name, Field: "missing from TOC", TOC: "tar-split has an entry the TOC lacks"}
}
