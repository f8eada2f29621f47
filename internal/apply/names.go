package apply

import (
	"crypto/sha256"
	"errors"
	"fmt"

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
// Paths are kept as 16-byte hashes (128 bits of SHA-256 make a collision
// negligible), so the binding costs a fixed few dozen bytes per entry
// however long the names are.
type Names struct {
	kinds map[pathKey]kind // cleaned name → entry type
}

// kind is an entry type as an index into kindNames (one byte per entry
// rather than a string header).
type kind uint8

var kindNames = []string{"other", toc.TypeReg, toc.TypeDir, toc.TypeSymlink, toc.TypeHardlink, toc.TypeChar, toc.TypeBlock, toc.TypeFifo}

// kindDir is the kind of toc.TypeDir.
const kindDir kind = 2

func (k kind) String() string { return kindNames[k] }

type pathKey [16]byte

func keyOfPath(clean string) pathKey {
	s := sha256.Sum256([]byte(clean))
	return pathKey(s[:16])
}

// NewNames starts an empty binding.
func NewNames() *Names { return &Names{kinds: map[pathKey]kind{}} }

// Add binds e's path, or says why it cannot be bound.
func (n *Names) Add(e *toc.Entry) error {
	name, err := cleanName(e.Name)
	if err != nil {
		return err
	}
	key := keyOfPath(name)
	if prev, ok := n.kinds[key]; ok {
		return &ConflictError{Name: e.Name, Reason: fmt.Sprintf("the layer already has this path as a %q entry; a %q entry may not replace it", prev.String(), e.Type), Err: ErrDuplicateEntry}
	}
	if e.Type == toc.TypeHardlink {
		target, err := cleanName(e.LinkName)
		if err != nil || target == "" {
			return &InsecurePathError{Name: e.Name, Reason: fmt.Sprintf("link target %q is not local to the layer root", e.LinkName)}
		}
		switch k, ok := n.kinds[keyOfPath(target)]; {
		case !ok:
			return &ConflictError{Name: e.Name, Reason: fmt.Sprintf("link target %q is not created by an earlier entry", e.LinkName), Err: ErrLinkOrder}
		case k == kindDir:
			return &ConflictError{Name: e.Name, Reason: fmt.Sprintf("link target %q is a directory", e.LinkName)}
		}
	}
	n.kinds[key] = kindOf(e.Type)
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
