package index

import (
	"bytes"
	"cmp"
	"path"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
)

// builder accumulates one layer's records. Memory: 56 bytes per record plus
// the path bytes (a path is stored once for all of its file's records).
type builder struct {
	recs []record
	// seq keeps first-seen order among records of one digest.
	seq      []uint32
	strs     []byte
	lastPath string
	lastOff  uint32
	skipped  int // entries left out (bad digest, path too long)
}

// addPath returns the string-table reference of p, sharing it with the
// previous call's path (a file's chunks follow it).
func (b *builder) addPath(p string) (uint32, uint16, bool) {
	if len(p) == 0 || len(p) > maxPathLen {
		return 0, 0, false
	}
	if p == b.lastPath && len(b.strs) > 0 {
		return b.lastOff, uint16(len(p)), true
	}
	if uint64(len(b.strs))+uint64(len(p)) > maxStrings {
		return 0, 0, false
	}
	off := uint32(len(b.strs))
	b.strs = append(b.strs, p...)
	b.lastPath, b.lastOff = p, off
	return off, uint16(len(p)), true
}

// add records that [offset, offset+length) of p hashes to d. Digests other
// than sha256 are not indexed (every chunked format uses sha256).
func (b *builder) add(d digest.Digest, p string, offset, length int64, whole bool) {
	raw, ok := sha256Bytes(d)
	if !ok || offset < 0 || length <= 0 {
		b.skipped++
		return
	}
	so, sl, ok := b.addPath(p)
	if !ok {
		b.skipped++
		return
	}
	r := record{digest: raw, offset: uint64(offset), length: uint64(length), strOff: so, strLen: sl}
	if whole {
		r.flags = flagWhole
	}
	b.recs = append(b.recs, r)
	b.seq = append(b.seq, uint32(len(b.seq)))
}

// finish sorts by digest and keeps one record per digest: a whole file
// before a chunk, then the first added.
func (b *builder) finish() []record {
	idx := make([]int32, len(b.recs))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(x, y int32) int {
		rx, ry := &b.recs[x], &b.recs[y]
		if c := bytes.Compare(rx.digest[:], ry.digest[:]); c != 0 {
			return c
		}
		if c := cmp.Compare(ry.flags&flagWhole, rx.flags&flagWhole); c != 0 {
			return c
		}
		return cmp.Compare(b.seq[x], b.seq[y])
	})
	out := make([]record, 0, len(idx))
	for _, i := range idx {
		r := b.recs[i]
		if len(out) > 0 && out[len(out)-1].digest == r.digest {
			continue
		}
		out = append(out, r)
	}
	b.recs, b.seq = nil, nil
	return out
}

// sha256Bytes decodes a sha256 digest without allocating.
func sha256Bytes(d digest.Digest) ([32]byte, bool) {
	var raw [32]byte
	s := string(d)
	const prefix = "sha256:"
	if len(s) != len(prefix)+64 || !strings.HasPrefix(s, prefix) {
		return raw, false
	}
	for i := range raw {
		hi, ok1 := unhex(s[len(prefix)+2*i])
		lo, ok2 := unhex(s[len(prefix)+2*i+1])
		if !ok1 || !ok2 {
			return raw, false
		}
		raw[i] = hi<<4 | lo
	}
	return raw, true
}

// unhex accepts lowercase only, like go-digest's sha256 validation.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// layerPath turns a TOC or walk name into the path inside the diff
// directory; ok is false for names that are not indexed.
func layerPath(name string) (string, bool) {
	p := path.Clean("/" + name)
	if p == "/" {
		return "", false
	}
	if strings.HasPrefix(path.Base(p), ".wh.") {
		return "", false // whiteouts and opaque markers, never content
	}
	return p[1:], true
}

// flatPath is where a Flat-format layer keeps the file with digest d
// (upstream: "xx/rest-of-hex" of the sha256).
func flatPath(d digest.Digest) (string, bool) {
	if _, ok := sha256Bytes(d); !ok {
		return "", false
	}
	e := d.Encoded()
	return e[:2] + "/" + e[2:], true
}
