package treegen

import (
	"archive/tar"
	"bytes"
	"math/rand"
	"strconv"
	"time"
)

// UpdateOptions describe how an update differs from its base, the way a
// patch release of a toolchain does.
type UpdateOptions struct {
	Seed int64
	// EditBig is the share of big files (≥ 256 KiB) edited; default 0.3.
	EditBig float64
	// EditSmall is the share of small files rewritten; default 0.02.
	EditSmall float64
	// Added and Removed files; defaults 1% each.
	Added, Removed int
}

// Update derives an update of base: some big files get small edits in
// place (patched bytes, an inserted run, an appended run: most of their
// chunks survive), some small files are rewritten, a few files are added
// and removed, and every changed file gets a new mtime. base is not
// modified.
func Update(base []Entry, o UpdateOptions) []Entry {
	if o.EditBig == 0 {
		o.EditBig = 0.3
	}
	if o.EditSmall == 0 {
		o.EditSmall = 0.02
	}
	rng := rand.New(rand.NewSource(o.Seed))
	var regular int
	for _, e := range base {
		if e.Header.Typeflag == tar.TypeReg {
			regular++
		}
	}
	if o.Added == 0 {
		o.Added = max(1, regular/100)
	}
	if o.Removed == 0 {
		o.Removed = max(1, regular/100)
	}
	release := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	out := make([]Entry, 0, len(base)+o.Added)
	removed := 0
	for _, e := range base {
		h := *e.Header
		data := e.Data
		if h.Typeflag == tar.TypeReg {
			switch {
			case removed < o.Removed && rng.Intn(regular) < o.Removed*2:
				removed++
				continue
			case len(data) >= 256<<10 && rng.Float64() < o.EditBig:
				data = editBig(rng, data)
				h.ModTime = release
			case len(data) > 0 && len(data) < 256<<10 && rng.Float64() < o.EditSmall:
				data = append(bytes.Clone(data), []byte("\n// patched in the update\n")...)
				h.ModTime = release
			}
			h.Size = int64(len(data))
		}
		out = append(out, Entry{Header: &h, Data: data})
	}
	out = append(out, Entry{Header: &tar.Header{Typeflag: tar.TypeDir, Name: "pkg/added/", Mode: 0o755, ModTime: release}})
	for i := range o.Added {
		data := make([]byte, 1024+rng.Intn(64<<10))
		rng.Read(data)
		out = append(out, Entry{
			Header: &tar.Header{Typeflag: tar.TypeReg, Name: "pkg/added/new-" + strconv.Itoa(i), Mode: 0o644, Size: int64(len(data)), ModTime: release},
			Data:   data,
		})
	}
	return out
}

// editBig patches a few bytes, inserts a run and appends a run: edits a
// content-defined chunker survives (only the chunks around each edit
// change).
func editBig(rng *rand.Rand, data []byte) []byte {
	b := bytes.Clone(data)
	for range 3 {
		b[rng.Intn(len(b))] ^= 0x5a
	}
	ins := make([]byte, 100+rng.Intn(4000))
	rng.Read(ins)
	at := rng.Intn(len(b))
	b = append(b[:at:at], append(ins, b[at:]...)...)
	tail := make([]byte, 500+rng.Intn(8000))
	rng.Read(tail)
	return append(b, tail...)
}
