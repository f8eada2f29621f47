package estargz

import (
	"errors"
	"fmt"
	"io"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	stargz "github.com/containerd/stargz-snapshotter/estargz"
)

// Counts summarises the TOC entries.
type Counts struct {
	Entries   int // all entries, chunk entries included
	Regular   int // "reg" entries, landmarks included
	Chunks    int
	Dirs      int
	Symlinks  int
	Hardlinks int
	Other     int // char, block, fifo
	Landmarks int // .prefetch.landmark and .no.prefetch.landmark entries
}

// entryValidator checks entries one by one, in TOC order, and counts them.
type entryValidator struct {
	offsets *toc.OffsetChecker // payloads lie in [0, TOC offset)
	counts  Counts

	// The "reg" entry the following "chunk" entries belong to.
	inGroup    bool
	groupIndex int
	groupName  string
	groupSize  int64
	covered    int64 // uncompressed bytes described by the group so far
	lastChunk  bool  // a chunkSize 0 ("to the end of the file") was seen
}

func newEntryValidator(dataEnd int64) *entryValidator {
	return &entryValidator{offsets: toc.NewOffsetChecker(dataEnd)}
}

func (v *entryValidator) check(i int, e *toc.Entry) error {
	if e.Type != toc.TypeChunk {
		if err := v.closeGroup(); err != nil {
			return err
		}
	}
	if e.Type == toc.TypeReg {
		v.groupIndex = i
	}
	if err := v.checkEntry(e); err != nil {
		return &EntryError{Index: i, Name: e.Name, Err: err}
	}
	return nil
}

func (v *entryValidator) checkEntry(e *toc.Entry) error {
	v.counts.Entries++
	if e.Name == "" {
		return errors.New("empty name")
	}
	if err := e.CheckNonNegative(); err != nil {
		return err
	}
	if e.InnerOffset != 0 {
		return fmt.Errorf("%w (innerOffset %d)", ErrInnerOffset, e.InnerOffset)
	}
	// Zero chunks are a zstd:chunked feature; no eStargz writer emits them.
	if e.ChunkType != toc.ChunkTypeData {
		return fmt.Errorf("chunkType %q is not used by eStargz", e.ChunkType)
	}
	switch e.Type {
	case toc.TypeReg:
		v.counts.Regular++
		if e.Name == stargz.PrefetchLandmark || e.Name == stargz.NoPrefetchLandmark {
			v.counts.Landmarks++
		}
		if err := v.startGroup(e); err != nil {
			return err
		}
	case toc.TypeChunk:
		v.counts.Chunks++
		if err := v.addChunk(e); err != nil {
			return err
		}
	case toc.TypeDir, toc.TypeSymlink, toc.TypeHardlink, toc.TypeChar, toc.TypeBlock, toc.TypeFifo:
		switch e.Type {
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
	// Strictly ascending offsets also hold because every eStargz payload
	// starts a new gzip member.
	if err := v.offsets.Check(e); err != nil {
		return err
	}
	return e.CheckDigests()
}

// closeGroup checks that the chunks of the group just ended describe the
// whole file: a short last chunk would make the file come out short.
func (v *entryValidator) closeGroup() error {
	if v.inGroup && !v.lastChunk && v.covered != v.groupSize {
		return &EntryError{Index: v.groupIndex, Name: v.groupName,
			Err: fmt.Errorf("chunks cover %d of the file's %d bytes", v.covered, v.groupSize)}
	}
	v.inGroup = false
	return nil
}

// startGroup opens a regular file's chunk group. The entry describes chunk
// 0 (FORMATS.md "estargz-toc": chunkSize 0 means "to the end of the file").
func (v *entryValidator) startGroup(e *toc.Entry) error {
	v.inGroup, v.groupName, v.groupSize = true, e.Name, e.Size
	v.covered, v.lastChunk = e.ChunkSize, e.ChunkSize == 0
	if e.ChunkOffset != 0 {
		return fmt.Errorf("chunkOffset %d on the file's first chunk", e.ChunkOffset)
	}
	if e.Size > 0 {
		// Without them the payload can be neither located nor verified.
		if e.Offset == 0 {
			return errors.New("non-empty regular file without offset")
		}
		if e.Digest == "" {
			return errors.New("non-empty regular file without digest")
		}
	}
	if v.covered > e.Size {
		return fmt.Errorf("chunkSize %d exceeds the file size %d", e.ChunkSize, e.Size)
	}
	return nil
}

// addChunk checks a "chunk" entry against its group: range derivation
// groups chunks with the "reg" before them (FORMATS.md "chunk-ranges"), and the sizes
// must tile the file.
func (v *entryValidator) addChunk(e *toc.Entry) error {
	switch {
	case !v.inGroup:
		return errors.New(`"chunk" entry does not follow a "reg" entry`)
	case e.Name != v.groupName:
		return fmt.Errorf("chunk entry name differs from its file %q", v.groupName)
	case v.lastChunk:
		return errors.New("chunk entry after the file's last chunk (chunkSize 0)")
	case e.ChunkOffset != v.covered:
		return fmt.Errorf("chunkOffset %d, want %d (the sum of the previous chunk sizes)", e.ChunkOffset, v.covered)
	case e.ChunkOffset >= v.groupSize:
		return fmt.Errorf("chunkOffset %d at or past the file size %d", e.ChunkOffset, v.groupSize)
	case e.Offset == 0:
		return errors.New("chunk entry without offset")
	case e.ChunkSize > v.groupSize-v.covered:
		return fmt.Errorf("chunkSize %d overruns the file size %d", e.ChunkSize, v.groupSize)
	}
	v.covered += e.ChunkSize
	v.lastChunk = e.ChunkSize == 0
	return nil
}

// decodeOnce is the one decoding pass over the TOC: every entry is
// validated and counted, and each that belongs to the layer (not in
// skipNames) is handed to sink when it is not nil.
func decodeOnce(r io.Reader, dataEnd int64, sink toc.Sink) (*entryValidator, *toc.Decoder, error) {
	v := newEntryValidator(dataEnd)
	d := toc.NewDecoder(r)
	for {
		e, err := d.Next()
		if err == io.EOF {
			if err := v.closeGroup(); err != nil {
				return nil, nil, err
			}
			return v, d, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("eStargz TOC: %w", err)
		}
		if err := v.check(d.Index()-1, e); err != nil {
			return nil, nil, err
		}
		if sink != nil && !skipNames[e.Name] {
			if err := sink.Add(e); err != nil {
				return nil, nil, err
			}
		}
	}
}
