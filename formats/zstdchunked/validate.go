package zstdchunked

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/keyset"
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

// nameKey is a fixed-size stand-in for a name, so the uniqueness check costs
// 16 bytes per entry however long the names are. 128 bits of SHA-256 make
// an accidental collision negligible.
type nameKey = keyset.Key

func keyOf(name string) nameKey {
	s := sha256.Sum256([]byte(name))
	return nameKey(s[:16])
}

// entryValidator checks entries one by one, in TOC order, and counts them.
// Names must be unique: that is known only at the end (repeatedName), from
// a set of name keys kept on disk beyond a constant.
type entryValidator struct {
	offsets   *toc.OffsetChecker // payloads lie in [0, TOC data offset)
	counts    Counts
	names     *keyset.Set
	groupName string // name of the "reg" a following "chunk" belongs to
	inGroup   bool
}

func newEntryValidator(dataEnd int64, tempDir string) *entryValidator {
	return &entryValidator{offsets: toc.NewOffsetChecker(dataEnd), names: keyset.New(tempDir)}
}

func (v *entryValidator) check(i int, e *toc.Entry) error {
	if err := v.checkEntry(e); err != nil {
		return &EntryError{Index: i, Name: e.Name, Err: err}
	}
	if e.Type != toc.TypeChunk {
		return v.names.Add(keyOf(e.Name))
	}
	return nil
}

// repeatedName is the error for the entry that repeats an earlier name
// with key k, found by decoding the TOC again: only failing loads do.
func repeatedName(open func() io.Reader, k nameKey) error {
	d := toc.NewDecoder(open())
	seen := false
	for {
		e, err := d.Next()
		if err != nil {
			return fmt.Errorf("zstd:chunked TOC: a name repeats, but a second decode failed: %w", err)
		}
		if e.Type == toc.TypeChunk || keyOf(e.Name) != k {
			continue
		}
		if seen {
			return &EntryError{Index: d.Index() - 1, Name: e.Name, Err: fmt.Errorf("%w %q", ErrDuplicateName, e.Name)}
		}
		seen = true
	}
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

// decodeOnce is the one decoding pass over the TOC open returns: every
// entry is validated and counted, its non-chunk entries are compared with
// the tar-split (when ts is not nil), and each is handed to sink (when not
// nil). d's Version and TarSplitDigest are complete when it returns.
//
// Errors come in the order a reader would look for them: a bad entry
// first, then a repeated name, then a mismatch with the tar-split (kept
// until the pass ends, so that the other two are found first).
func decodeOnce(open func() io.Reader, dataEnd int64, ts *tarSplitHeaders, sink toc.Sink, tempDir string) (*entryValidator, *toc.Decoder, error) {
	v := newEntryValidator(dataEnd, tempDir)
	defer func() { _ = v.names.Close() }() // a temp file at most: the result is what matters
	var cons *consistency
	if ts != nil {
		ahead := newHeadersAhead(ts)
		defer ahead.close() // before ts.size is read
		cons = &consistency{ts: ahead}
	}
	d := toc.NewDecoder(open())
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
			cons.entry(e)
		}
		if sink != nil && (cons == nil || !cons.failed()) {
			if err := sink.Add(e); err != nil {
				return nil, nil, err
			}
		}
	}
	switch k, repeated, err := v.names.Repeated(); {
	case err != nil:
		return nil, nil, fmt.Errorf("zstd:chunked TOC: checking names are unique: %w", err)
	case repeated:
		return nil, nil, repeatedName(open, k)
	}
	if cons != nil {
		if err := cons.end(open); err != nil {
			return nil, nil, err
		}
	}
	return v, d, nil
}
