package zstdchunked

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/chunkdiff/chunkdiff/formats/toc"
)

// EntryError reports a TOC entry that is unusable.
type EntryError struct {
	Index int
	Name  string
	Err   error
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("zstd:chunked TOC entry %d (%q): %v", e.Index, e.Name, e.Err)
}

func (e *EntryError) Unwrap() error { return e.Err }

// ErrDuplicateName is wrapped when two non-chunk entries share a name.
var ErrDuplicateName = errors.New("duplicate entry name")

// nameKey is a fixed-size stand-in for a name, so the uniqueness set costs
// 16 bytes per entry however long the names are. 128 bits of SHA-256 make
// an accidental collision negligible.
type nameKey [16]byte

func keyOf(name string) nameKey {
	s := sha256.Sum256([]byte(name))
	return nameKey(s[:16])
}

// entryValidator checks entries one by one, in TOC order, and counts them.
type entryValidator struct {
	offsets   *toc.OffsetChecker // payloads lie in [0, TOC data offset)
	counts    Counts
	names     map[nameKey]struct{}
	groupName string // name of the "reg" a following "chunk" belongs to
	inGroup   bool
}

func newEntryValidator(dataEnd int64) *entryValidator {
	return &entryValidator{offsets: toc.NewOffsetChecker(dataEnd), names: map[nameKey]struct{}{}}
}

func (v *entryValidator) check(i int, e *toc.Entry) error {
	if err := v.checkEntry(e); err != nil {
		return &EntryError{Index: i, Name: e.Name, Err: err}
	}
	return nil
}

func (v *entryValidator) checkEntry(e *toc.Entry) error {
	v.counts.Entries++
	switch e.Type {
	case toc.TypeChunk:
		v.counts.Chunks++
		// Range derivation groups chunks with the "reg" before them
		// (FORMATS.md "chunk-ranges").
		if !v.inGroup {
			return errors.New(`"chunk" entry does not follow a "reg" entry`)
		}
		if e.Name != v.groupName {
			return fmt.Errorf("chunk entry name differs from its file %q", v.groupName)
		}
	case toc.TypeReg, toc.TypeDir, toc.TypeSymlink, toc.TypeHardlink, toc.TypeChar, toc.TypeBlock, toc.TypeFifo:
		if e.Name == "" {
			return errors.New("empty name")
		}
		k := keyOf(e.Name)
		if _, dup := v.names[k]; dup {
			return fmt.Errorf("%w %q", ErrDuplicateName, e.Name)
		}
		v.names[k] = struct{}{}
		v.inGroup = e.Type == toc.TypeReg
		v.groupName = e.Name
		switch e.Type {
		case toc.TypeReg:
			v.counts.Regular++
		case toc.TypeDir:
			v.counts.Dirs++
		case toc.TypeSymlink:
			v.counts.Symlinks++
		case toc.TypeHardlink:
			v.counts.Hardlinks++
		default:
			v.counts.Other++
		}
	default:
		return fmt.Errorf("unknown entry type %q", e.Type)
	}
	if err := e.CheckNonNegative(); err != nil {
		return err
	}
	if e.ChunkType != toc.ChunkTypeData && e.ChunkType != toc.ChunkTypeZeros {
		return fmt.Errorf("unknown chunkType %q", e.ChunkType)
	}
	if err := v.offsets.Check(e); err != nil {
		return err
	}
	return e.CheckDigests()
}

// decodeOnce is the one decoding pass over the TOC: every entry is
// validated and counted, its non-chunk entries are compared with the
// tar-split (when ts is not nil), and each is handed to sink (when not nil).
// d's Version and TarSplitDigest are complete when it returns.
func decodeOnce(r io.Reader, dataEnd int64, ts *tarSplitHeaders, sink toc.Sink) (v *entryValidator, d *toc.Decoder, err error) {
	v = newEntryValidator(dataEnd)
	var cons *consistency
	if ts != nil {
		cons = &consistency{ts: ts}
	}
	d = toc.NewDecoder(r)
	for {
		e, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("zstd:chunked TOC: %w", err)
		}
		if err := v.check(d.Index()-1, e); err != nil {
			return nil, nil, err
		}
		if cons != nil && e.Type != toc.TypeChunk {
			if err := cons.entry(e); err != nil {
				return nil, nil, err
			}
		}
		if sink != nil && (cons == nil || !cons.failed()) {
			if err := sink.Add(e); err != nil {
				return nil, nil, err
			}
		}
	}
	if cons != nil {
		if err := cons.end(v.names); err != nil {
			return nil, nil, err
		}
	}
	return v, d, nil
}
