package apply

import (
	"errors"
	"fmt"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/keyset"
)

// Replay gives the entries given to Add again, in the same order, to each
// until it returns false. Finish calls it only to name the entry it
// refuses (the binding keeps hashes, not names), like the TOC load decodes
// again to name a repeated name.
type Replay func(each func(*toc.Entry) bool) error

// refusal is an entry a deferred check refuses: what is known of it
// without its name.
type refusal struct {
	pos  int64
	dup  bool // a duplicate of a path first bound as prev; else a bad link
	prev kind
	key  pathKey // the entry's path (dup) or its link target
}

// before reports whether r is refused ahead of o: the earlier entry, and
// for one entry the duplicate first, as Add checks it first.
func (r *refusal) before(o *refusal) bool {
	return o == nil || r.pos < o.pos || r.pos == o.pos && r.dup && !o.dup
}

// Finish completes the checks Add deferred and returns the earliest
// refused entry's error, naming it with replay. It is to be called once,
// after the last Add; it releases the temp files (as Close does), also on
// error.
func (n *Names) Finish(replay Replay) (err error) {
	defer func() {
		if cerr := n.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("apply: releasing the name binding: %w", cerr)
		}
	}()
	if !n.spilled {
		return nil // every check was made at once
	}
	// The map holds entries bound before any refusal: they join too.
	if err := n.spill(); err != nil {
		return err
	}
	first, err := n.join()
	if err != nil {
		return err
	}
	// At the refused entry's own position, only its being a duplicate can
	// be found here, which Add checks first.
	if first == nil || n.refused != nil && !first.before(&refusal{pos: n.refusedAt}) {
		return n.refused
	}
	return first.name(replay)
}

// join merges the sorted entries with the sorted deferred links (both by
// key, then position) and returns the earliest refusal (nil if none).
// After a refusal Add recorded, no later entry was kept: later refusals
// do not matter.
func (n *Names) join() (*refusal, error) {
	entries, err := n.entries.Merge()
	if err != nil {
		return nil, &spillError{err}
	}
	var links *keyset.Merge[nameRecord]
	if n.links != nil {
		if links, err = n.links.Merge(); err != nil {
			return nil, &spillError{err}
		}
	}
	var first *refusal
	note := func(r refusal) {
		if r.before(first) {
			first = &r
		}
	}
	link, haveLink, err := next(links)
	if err != nil {
		return nil, err
	}
	var group nameRecord // the first (binding) record of the current key
	inGroup := false
	for {
		e, ok, err := entries.Next()
		if err != nil {
			return nil, &spillError{err}
		}
		if ok && inGroup && e.key() == group.key() {
			note(refusal{pos: e.pos(), dup: true, prev: group.kind(), key: e.key()})
			continue
		}
		// A new key (or the end): links to keys before it have no target.
		for haveLink && (!ok || cmpKeys(link.key(), e.key()) < 0) {
			note(refusal{pos: link.pos(), key: link.key()})
			if link, haveLink, err = next(links); err != nil {
				return nil, err
			}
		}
		if !ok {
			return first, nil
		}
		group, inGroup = e, true
		for haveLink && link.key() == e.key() {
			switch {
			case e.pos() >= link.pos():
				// The target comes later, or is the link itself.
				note(refusal{pos: link.pos(), key: link.key()})
			case e.kind() == kindDir:
				note(refusal{pos: link.pos(), prev: kindDir, key: link.key()})
			}
			if link, haveLink, err = next(links); err != nil {
				return nil, err
			}
		}
	}
}

func next(m *keyset.Merge[nameRecord]) (nameRecord, bool, error) {
	if m == nil {
		return nameRecord{}, false, nil
	}
	r, ok, err := m.Next()
	if err != nil {
		return r, false, &spillError{err}
	}
	return r, ok, nil
}

func cmpKeys(a, b pathKey) int { return cmpRecords(newRecord(a, 0, 0), newRecord(b, 0, 0)) }

// errReplay is wrapped when replay does not give back the entries Add got.
var errReplay = errors.New("the replayed entries differ from those bound")

// name re-finds the refused entry and returns its error, as Add would have.
func (r *refusal) name(replay Replay) error {
	var e *toc.Entry
	if replay != nil {
		var i int64
		err := replay(func(x *toc.Entry) bool {
			if i == r.pos {
				c := *x
				e = &c
				return false
			}
			i++
			return true
		})
		if err != nil {
			return fmt.Errorf("apply: re-reading entry %d to name it: %w", r.pos, err)
		}
	}
	if e == nil {
		return fmt.Errorf("apply: entry %d was refused but cannot be named: %w", r.pos, errReplay)
	}
	if r.dup {
		if name, err := cleanName(e.Name); err != nil || keyOfPath(name) != r.key {
			return fmt.Errorf("apply: entry %d (%q): %w", r.pos, e.Name, errReplay)
		}
		return errDuplicate(e, r.prev)
	}
	if target, err := cleanName(e.LinkName); err != nil || e.Type != toc.TypeHardlink || keyOfPath(target) != r.key {
		return fmt.Errorf("apply: entry %d (%q): %w", r.pos, e.Name, errReplay)
	}
	if r.prev == kindDir {
		return errLinkToDir(e)
	}
	return errLinkOrder(e)
}
