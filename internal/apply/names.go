package apply

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/keyset"
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
// store's tar-split packer, but lets "/h" replace "h"; we refuse both. The
// TOC load's own uniqueness check compares names uncleaned, so it does not
// make this one redundant.)
//
// Paths are kept as 15-byte hashes (120 bits of SHA-256: a collision is
// negligible by chance and takes about 2^60 hashes to seek). The latest
// namesRecent entries are in a map and checked at once. Once a layer has
// more, every entry's (key, position, kind) also goes to an external sort
// (keyset.Sorter: sorted runs in an unlinked temp file), so do the hard
// links whose target had left the map, and Finish joins the two: a
// repeated key is a duplicate, a link's target must have a key, come
// earlier and not be a directory. Finish then reports the earliest refused
// entry (re-found with Replay to name it), the same error Add would have
// returned for it with unbounded memory; until then Add refuses nothing
// (it records the first entry it would refuse at once), so the answer does
// not depend on where the map overflowed.
//
// Memory: the map (namesRecent entries, ~400 KiB) and two sort buffers of
// namesSortRecords 24-byte records (1 MiB each; the links' only if links
// are deferred), plus a 16 KiB read buffer per sorted run while Finish
// merges (one run per namesSortRecords entries: ~0.4 bytes per entry).
// Disk: 24 bytes per entry and per deferred link, beyond the map.
type Names struct {
	tempDir string
	next    int64               // position of the next entry given to Add
	recent  map[pathKey]boundAt // the latest entries, up to namesRecent
	entries *keyset.Sorter[nameRecord]
	links   *keyset.Sorter[nameRecord] // links whose target had left recent
	spilled bool                       // entries holds (or will hold) every entry
	// refused is the first entry Add refused after the spill, at
	// refusedAt: reported by Finish unless a deferred check finds an
	// earlier one.
	refused   error
	refusedAt int64
}

// boundAt is where and as what a recent path was bound.
type boundAt struct {
	pos  int64
	kind kind
}

// namesRecent and namesSortRecords are variables so tests can cross the
// boundaries with a few entries.
var (
	namesRecent      = 8192
	namesSortRecords = (1 << 20) / len(nameRecord{})
)

// kind is an entry type as an index into kindNames (one byte per entry
// rather than a string header).
type kind uint8

var kindNames = []string{"other", toc.TypeReg, toc.TypeDir, toc.TypeSymlink, toc.TypeHardlink, toc.TypeChar, toc.TypeBlock, toc.TypeFifo}

// kindDir is the kind of toc.TypeDir.
const kindDir kind = 2

func (k kind) String() string { return kindNames[k] }

// pathKey is 15 bytes of a path's hash.
type pathKey [15]byte

func keyOfPath(clean string) pathKey {
	s := sha256.Sum256([]byte(clean))
	return pathKey(s[:15])
}

// nameRecord is a sorted record: a path key, a big-endian entry position
// (so records sort by key, then position) and, for entries, the kind.
type nameRecord [24]byte

func newRecord(k pathKey, pos int64, kd kind) nameRecord {
	var r nameRecord
	copy(r[:15], k[:])
	binary.BigEndian.PutUint64(r[15:23], uint64(pos))
	r[23] = byte(kd)
	return r
}

func (r *nameRecord) key() pathKey { return pathKey(r[:15]) }
func (r *nameRecord) pos() int64   { return int64(binary.BigEndian.Uint64(r[15:23])) }
func (r *nameRecord) kind() kind   { return kind(r[23]) }

func cmpRecords(a, b nameRecord) int { return bytes.Compare(a[:23], b[:23]) }

func newRecordSorter(tempDir string) *keyset.Sorter[nameRecord] {
	return keyset.NewSorter(tempDir, namesSortRecords, cmpRecords, func(r *nameRecord) []byte { return r[:] })
}

// NewNames starts an empty binding spilling to tempDir (os.TempDir() if
// empty; Root.TempDir for a layer). Close releases it.
func NewNames(tempDir string) *Names {
	return &Names{tempDir: tempDir, recent: map[pathKey]boundAt{}}
}

// Add binds e's path, or says why it cannot be bound. Beyond namesRecent
// entries, refusals are left to Finish and Add fails only to spill.
func (n *Names) Add(e *toc.Entry) error {
	pos := n.next
	n.next++
	if n.refused != nil {
		return nil // Finish reports it or an earlier one: later entries do not matter
	}
	err := n.add(e, pos)
	var spill *spillError
	if err == nil || !n.spilled || errors.As(err, &spill) {
		return err
	}
	n.refused, n.refusedAt = err, pos
	return nil
}

// spillError is a failure of the temp file, not a refusal.
type spillError struct{ err error }

func (e *spillError) Error() string { return "apply: binding names: " + e.err.Error() }
func (e *spillError) Unwrap() error { return e.err }

func (n *Names) add(e *toc.Entry, pos int64) error {
	name, err := cleanName(e.Name)
	if err != nil {
		return err
	}
	key := keyOfPath(name)
	if err := n.check(e, key, pos); err != nil {
		if n.spilled {
			// Its own record still goes to the sort: the join may find it
			// a duplicate of a path that left the map, which Add would
			// have reported first.
			if serr := n.entries.Add(newRecord(key, pos, kindOf(e.Type))); serr != nil {
				return &spillError{serr}
			}
		}
		return err
	}
	n.recent[key] = boundAt{pos: pos, kind: kindOf(e.Type)}
	if len(n.recent) >= namesRecent {
		return n.spill()
	}
	return nil
}

// check refuses e (path key, at pos) if the map shows why, and defers the
// link check to Finish when the map cannot tell.
func (n *Names) check(e *toc.Entry, key pathKey, pos int64) error {
	if prev, ok := n.recent[key]; ok {
		return errDuplicate(e, prev.kind)
	}
	if e.Type != toc.TypeHardlink {
		return nil
	}
	target, err := cleanName(e.LinkName)
	if err != nil || target == "" {
		return &InsecurePathError{Name: e.Name, Reason: fmt.Sprintf("link target %q is not local to the layer root", e.LinkName)}
	}
	tk := keyOfPath(target)
	switch t, ok := n.recent[tk]; {
	case ok && t.kind == kindDir:
		return errLinkToDir(e)
	case ok:
		return nil
	case !n.spilled:
		return errLinkOrder(e)
	}
	// The target left the map, or never was: Finish joins.
	if n.links == nil {
		n.links = newRecordSorter(n.tempDir)
	}
	if err := n.links.Add(newRecord(tk, pos, 0)); err != nil {
		return &spillError{err}
	}
	return nil
}

// spill moves the map's entries to the sort.
func (n *Names) spill() error {
	if n.entries == nil {
		n.entries = newRecordSorter(n.tempDir)
	}
	n.spilled = true
	for k, b := range n.recent {
		if err := n.entries.Add(newRecord(k, b.pos, b.kind)); err != nil {
			return &spillError{err}
		}
	}
	clear(n.recent)
	return nil
}

func errDuplicate(e *toc.Entry, prev kind) error {
	return &ConflictError{Name: e.Name, Reason: fmt.Sprintf("the layer already has this path as a %q entry; a %q entry may not replace it", prev.String(), e.Type), Err: ErrDuplicateEntry}
}

func errLinkOrder(e *toc.Entry) error {
	return &ConflictError{Name: e.Name, Reason: fmt.Sprintf("link target %q is not created by an earlier entry", e.LinkName), Err: ErrLinkOrder}
}

func errLinkToDir(e *toc.Entry) error {
	return &ConflictError{Name: e.Name, Reason: fmt.Sprintf("link target %q is a directory", e.LinkName)}
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

// Close releases the binding's temp files; Finish does too.
func (n *Names) Close() error {
	n.recent = map[pathKey]boundAt{}
	var errs []error
	for _, s := range []*keyset.Sorter[nameRecord]{n.entries, n.links} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	n.entries, n.links = nil, nil
	return errors.Join(errs...)
}
