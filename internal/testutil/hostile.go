package testutil

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/tar/storage"
)

// Annotation keys of zstd:chunked (FORMATS.md "zstd-annotations").
const (
	annTOCDigest   = "io.github.containers.zstd-chunked.manifest-checksum"
	annTOCPosition = "io.github.containers.zstd-chunked.manifest-position"
	annTarSplitPos = "io.github.containers.zstd-chunked.tarsplit-position"
)

// Crafted is a zstd:chunked layer taken apart for building hostile
// variants: its TOC entries and tar-split entries are plain values to edit,
// frames can be appended after the data (past the tar's end-of-archive),
// and Build puts it back together with fresh digests and annotations, so
// only the checks under test can reject it.
type Crafted struct {
	base    Layer
	dataEnd int64 // start of the old TOC's skippable frame
	extra   []byte

	// Entries are the TOC entries as generic JSON objects.
	Entries []map[string]any
	// TarSplit are the tar-split entries; RawTarSplit, when set, is used
	// verbatim instead (uncompressed JSON lines: for line bombs).
	TarSplit    []storage.Entry
	RawTarSplit []byte
}

// Craft takes a zstd:chunked layer (from ZstdChunked) apart.
func Craft(tb testing.TB, l Layer) *Crafted {
	tb.Helper()
	raw, off := TOC(tb, l)
	var doc struct {
		Entries []map[string]any `json:"entries"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		tb.Fatalf("TOC: %v", err)
	}
	c := &Crafted{base: l.clone(), dataEnd: off - 8, Entries: doc.Entries}
	var tsOff, tsLen, tsULen int64
	if _, err := fmt.Sscanf(l.Annotations[annTarSplitPos], "%d:%d:%d", &tsOff, &tsLen, &tsULen); err != nil {
		tb.Fatalf("tarsplit-position: %v", err)
	}
	d, err := zstd.NewReader(nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer d.Close()
	ts, err := d.DecodeAll(l.Blob[tsOff:tsOff+tsLen], nil)
	if err != nil {
		tb.Fatalf("tar-split: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(ts))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var e storage.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			tb.Fatalf("tar-split line: %v", err)
		}
		c.TarSplit = append(c.TarSplit, e)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return c
}

// Entry returns the first TOC entry (not a chunk) called name.
func (c *Crafted) Entry(tb testing.TB, name string) map[string]any {
	tb.Helper()
	for _, e := range c.Entries {
		if e["name"] == name && e["type"] != "chunk" {
			return e
		}
	}
	tb.Fatalf("no TOC entry %q", name)
	return nil
}

// FileEntry returns the tar-split file entry for name.
func (c *Crafted) FileEntry(tb testing.TB, name string) *storage.Entry {
	tb.Helper()
	for i := range c.TarSplit {
		if e := &c.TarSplit[i]; e.Type == storage.FileType && e.GetName() == name {
			return e
		}
	}
	tb.Fatalf("no tar-split file entry %q", name)
	return nil
}

// AppendFrame appends content as one zstd frame after everything the
// original blob's data section holds and returns its blob offset and end,
// for a TOC entry to point at.
func (c *Crafted) AppendFrame(tb testing.TB, content []byte) (offset, end int64) {
	tb.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer enc.Close()
	offset = c.dataEnd + int64(len(c.extra))
	c.extra = enc.EncodeAll(content, c.extra)
	return offset, c.dataEnd + int64(len(c.extra))
}

// Build serialises the crafted layer: data, appended frames, the new TOC
// and tar-split as skippable frames, the old footer; annotations and
// digests are recomputed.
func (c *Crafted) Build(tb testing.TB) Layer {
	tb.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer enc.Close()
	ts := c.RawTarSplit
	if ts == nil {
		var buf bytes.Buffer
		for i := range c.TarSplit {
			line, err := json.Marshal(&c.TarSplit[i])
			if err != nil {
				tb.Fatal(err)
			}
			buf.Write(line)
			buf.WriteByte('\n')
		}
		ts = buf.Bytes()
	}
	tsZ := enc.EncodeAll(ts, nil)
	tocJSON, err := json.Marshal(map[string]any{"version": 1, "entries": c.Entries, "tarSplitDigest": digest.FromBytes(tsZ)})
	if err != nil {
		tb.Fatal(err)
	}
	tocZ := enc.EncodeAll(tocJSON, nil)

	l := c.base.clone()
	footer := l.Blob[len(l.Blob)-72:]
	blob := append(append([]byte(nil), l.Blob[:c.dataEnd]...), c.extra...)
	tocOff := len(blob) + 8
	blob = appendSkippable(blob, tocZ)
	tsOff := len(blob) + 8
	blob = appendSkippable(blob, tsZ)
	blob = append(blob, footer...)
	l.Blob = blob
	l.Digest = digest.FromBytes(blob)
	l.TOCDigest = digest.FromBytes(tocZ)
	l.Annotations = map[string]string{
		annTOCDigest:   l.TOCDigest.String(),
		annTOCPosition: fmt.Sprintf("%d:%d:%d:1", tocOff, len(tocZ), len(tocJSON)),
		annTarSplitPos: fmt.Sprintf("%d:%d:%d", tsOff, len(tsZ), len(ts)),
	}
	return l
}

func appendSkippable(blob, data []byte) []byte {
	blob = append(blob, 0x50, 0x2A, 0x4D, 0x18)
	blob = binary.LittleEndian.AppendUint32(blob, uint32(len(data)))
	return append(blob, data...)
}

// Rename renames every entry called from (TOC entries, tar-split file
// entries and the name field of tar headers in tar-split segments) to to,
// which must have the same length: the tar-split then reassembles into the
// tar with the new name. It is how layers no honest writer produces (tar-
// split's packer refuses duplicate names) are made: build with a unique
// placeholder, rename to the duplicate.
func (c *Crafted) Rename(tb testing.TB, from, to string) {
	tb.Helper()
	if len(from) != len(to) || len(from) > 100 {
		tb.Fatalf("Rename %q → %q: names must have the same length, at most 100", from, to)
	}
	n := 0
	for _, e := range c.Entries {
		if e["name"] == from {
			e["name"] = to
			n++
		}
	}
	for i := range c.TarSplit {
		e := &c.TarSplit[i]
		switch e.Type {
		case storage.FileType:
			if e.GetName() == from {
				e.SetName(to)
			}
		case storage.SegmentType:
			n += renameHeaders(e.Payload, from, to)
		}
	}
	if n < 2 {
		tb.Fatalf("Rename %q: found %d TOC entries and headers, want both", from, n)
	}
}

// renameHeaders rewrites the name field of every tar header block in p
// named from.
func renameHeaders(p []byte, from, to string) int {
	return editHeaders(p, from, func(blk []byte) { copy(blk, to) })
}

// editHeaders applies edit to every 512-byte USTAR header block in p whose
// name is name, and gives it a fresh checksum.
func editHeaders(p []byte, name string, edit func(blk []byte)) int {
	n := 0
	for off := 0; off+512 <= len(p); off++ {
		blk := p[off : off+512]
		if string(blk[:len(name)]) != name || (len(name) < 100 && blk[len(name)] != 0) || string(blk[257:262]) != "ustar" {
			continue
		}
		edit(blk)
		var sum int64
		for i, b := range blk {
			if i >= 148 && i < 156 {
				b = ' '
			}
			sum += int64(b)
		}
		copy(blk[148:155], fmt.Sprintf("%06o\x00", sum))
		n++
	}
	return n
}

// SetFileSize declares name's size as size in the TOC, the tar-split file
// entry and its tar header (GNU base-256, so any int64 fits): the layer
// stays consistent while its content is not there.
func (c *Crafted) SetFileSize(tb testing.TB, name string, size int64) {
	tb.Helper()
	e := c.Entry(tb, name)
	e["size"] = size
	c.FileEntry(tb, name).Size = size
	n := 0
	for i := range c.TarSplit {
		if s := &c.TarSplit[i]; s.Type == storage.SegmentType {
			n += editHeaders(s.Payload, name, func(blk []byte) {
				field := blk[124:136]
				clear(field)
				field[0] = 0x80
				binary.BigEndian.PutUint64(field[4:], uint64(size))
			})
		}
	}
	if n != 1 {
		tb.Fatalf("SetFileSize %q: %d headers found, want 1", name, n)
	}
}
