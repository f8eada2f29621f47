package apply

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/chunkdiff/chunkdiff/formats/toc"
)

// ErrDuplicateEntry is matched (errors.Is) by a ConflictError for a path a
// layer names twice (after cleaning: "h", "/h" and "./h" are one path).
var ErrDuplicateEntry = errors.New("duplicate entry")

// ErrLinkOrder is matched by a ConflictError for a hard link whose target
// no earlier entry creates.
var ErrLinkOrder = errors.New("hard link before its target")

// Names binds a layer's entries to paths, in TOC (= tar) order, before
// anything is written. An ordinary extraction lets a later entry replace
// an earlier one and links hard links at once; applying creates files as
// they are fetched and hard links last, so a layer in which order matters
// would stage another tree than the one its DiffID describes (and a DiffID
// recomputed while a deferred link replaces a file would read the wrong
// bytes). So: every path is named once, directories included, and a hard
// link comes after its target, which is not a directory. (An ordinary pull
// refuses names that repeat after filepath.Clean, "d/" and "./d", in the
// store's tar-split packer, but lets "/h" replace "h"; we refuse both.)
//
// Paths are kept as 15-byte hashes (120 bits of SHA-256: a collision is
// negligible by chance and takes about 2^60 hashes to seek) with the
// entry's kind in a 16th byte, so the binding costs 16 bytes per entry
// however long the names are: the latest entries in a map, the others in
// sorted runs of at most namesRunMax keys searched by bisection. (A map of
// every key cost 23 to 38 bytes an entry, 38 MB at a million.)
type Names struct {
	recent map[pathKey]kind // the latest entries, up to namesRecent
	runs   [][]pathKey      // sorted; a run's size is namesRecent × 2^k
}

// Memory: 16 bytes per entry in the runs, plus at most namesRecent entries
// in the map and, while two runs are merged, one more run of up to
// namesRunMax keys (4 MiB).
const (
	namesRecent = 8192
	namesRunMax = 256 << 10
)

// kind is an entry type as an index into kindNames (one byte per entry
// rather than a string header).
type kind uint8

var kindNames = []string{"other", toc.TypeReg, toc.TypeDir, toc.TypeSymlink, toc.TypeHardlink, toc.TypeChar, toc.TypeBlock, toc.TypeFifo}

// kindDir is the kind of toc.TypeDir.
const kindDir kind = 2

func (k kind) String() string { return kindNames[k] }

// pathKey is 15 bytes of a path's hash; in runs, byte 15 holds the kind.
type pathKey [16]byte

func keyOfPath(clean string) pathKey {
	s := sha256.Sum256([]byte(clean))
	var k pathKey
	copy(k[:15], s[:15])
	return k
}

// NewNames starts an empty binding.
func NewNames() *Names { return &Names{recent: map[pathKey]kind{}} }

// lookup returns the kind bound to key.
func (n *Names) lookup(key pathKey) (kind, bool) {
	if k, ok := n.recent[key]; ok {
		return k, true
	}
	hi, lo := key.halves()
	for _, run := range n.runs {
		i, j := 0, len(run)
		for i < j {
			m := int(uint(i+j) >> 1)
			if h, l := run[m].halves(); h < hi || h == hi && l < lo {
				i = m + 1
			} else {
				j = m
			}
		}
		if i < len(run) {
			if h, l := run[i].halves(); h == hi && l == lo {
				return kind(run[i][15]), true
			}
		}
	}
	return 0, false
}

// halves returns the key's 15 hash bytes as two big-endian numbers, for
// comparisons in the order of the runs.
func (k *pathKey) halves() (hi, lo uint64) {
	return binary.BigEndian.Uint64(k[:8]), binary.BigEndian.Uint64(k[8:]) >> 8
}

// cmpKeys orders keys by their hash bytes (two keys in runs never share
// them: a path is bound once).
func cmpKeys(a, b pathKey) int {
	ah, al := a.halves()
	bh, bl := b.halves()
	switch {
	case ah != bh:
		return cmp.Compare(ah, bh)
	default:
		return cmp.Compare(al, bl)
	}
}

// bind adds key (not bound yet) with kind k.
func (n *Names) bind(key pathKey, k kind) {
	n.recent[key] = k
	if len(n.recent) < namesRecent {
		return
	}
	run := make([]pathKey, 0, len(n.recent))
	for key, k := range n.recent {
		key[15] = byte(k)
		run = append(run, key)
	}
	clear(n.recent)
	slices.SortFunc(run, cmpKeys)
	// Merge equal runs, like a binary counter, up to namesRunMax.
	for len(n.runs) > 0 {
		last := n.runs[len(n.runs)-1]
		if len(last) != len(run) || len(last)+len(run) > namesRunMax {
			break
		}
		run = mergeKeys(last, run)
		n.runs = n.runs[:len(n.runs)-1]
	}
	n.runs = append(n.runs, run)
}

// mergeKeys merges two sorted runs into a new one.
func mergeKeys(a, b []pathKey) []pathKey {
	out := make([]pathKey, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if cmpKeys(a[0], b[0]) <= 0 {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}

// Add binds e's path, or says why it cannot be bound.
func (n *Names) Add(e *toc.Entry) error {
	name, err := cleanName(e.Name)
	if err != nil {
		return err
	}
	key := keyOfPath(name)
	if prev, ok := n.lookup(key); ok {
		return &ConflictError{Name: e.Name, Reason: fmt.Sprintf("the layer already has this path as a %q entry; a %q entry may not replace it", prev.String(), e.Type), Err: ErrDuplicateEntry}
	}
	if e.Type == toc.TypeHardlink {
		target, err := cleanName(e.LinkName)
		if err != nil || target == "" {
			return &InsecurePathError{Name: e.Name, Reason: fmt.Sprintf("link target %q is not local to the layer root", e.LinkName)}
		}
		switch k, ok := n.lookup(keyOfPath(target)); {
		case !ok:
			return &ConflictError{Name: e.Name, Reason: fmt.Sprintf("link target %q is not created by an earlier entry", e.LinkName), Err: ErrLinkOrder}
		case k == kindDir:
			return &ConflictError{Name: e.Name, Reason: fmt.Sprintf("link target %q is a directory", e.LinkName)}
		}
	}
	n.bind(key, kindOf(e.Type))
	return nil
}

// kindOf returns the kind of entry type t ("other" for unknown types).
func kindOf(t string) kind {
	for i, c := range kindNames[1:] {
		if t == c {
			return kind(i + 1)
		}
	}
	return 0
}
