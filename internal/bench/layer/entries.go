package layer

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/treegen"
	"github.com/klauspost/compress/zstd"
)

// ReadEntries decompresses a built layer's blob (zstd:chunked, whose TOC
// sits in skippable frames the decoder passes over, or gzip) and returns
// its tar entries with their contents, in tar order.
func ReadEntries(f Files) ([]treegen.Entry, error) {
	file, err := os.Open(f.Blob())
	if err != nil {
		return nil, fmt.Errorf("read layer: %w", err)
	}
	defer file.Close()
	br := bufio.NewReaderSize(file, 1<<20)
	magic, err := br.Peek(2)
	if err != nil {
		return nil, fmt.Errorf("read layer %s: %w", f.Blob(), err)
	}
	var r io.Reader
	if magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read layer %s: %w", f.Blob(), err)
		}
		defer func() { _ = zr.Close() }() // reading: nothing to lose
		r = zr
	} else {
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read layer %s: %w", f.Blob(), err)
		}
		defer zr.Close()
		r = zr
	}
	return readTar(r)
}

func readTar(r io.Reader) ([]treegen.Entry, error) {
	var out []treegen.Entry
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read tar: %w", err)
		}
		var data []byte
		if h.Typeflag == tar.TypeReg {
			data = make([]byte, h.Size)
			if _, err := io.ReadFull(tr, data); err != nil {
				return nil, fmt.Errorf("read tar %s: %w", h.Name, err)
			}
		}
		out = append(out, treegen.Entry{Header: h, Data: data})
	}
}

// EntriesTar writes entries as a layer tar, normalised as WriteTar does
// (PAX, no access or change times), regular files sized by their data.
func EntriesTar(entries []treegen.Entry) TarSource {
	return func(w io.Writer) (Counts, error) {
		var c Counts
		tw := tar.NewWriter(w)
		for _, e := range entries {
			h := *e.Header
			h.Format = tar.FormatPAX
			h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
			h.ModTime = h.ModTime.Truncate(time.Second)
			switch h.Typeflag {
			case tar.TypeDir:
				c.Dirs++
			case tar.TypeSymlink:
				c.Symlinks++
			case tar.TypeLink:
				c.Hardlinks++
			case tar.TypeReg:
				h.Size = int64(len(e.Data))
				c.Files++
				c.FileBytes += h.Size
			}
			c.Entries++
			if err := tw.WriteHeader(&h); err != nil {
				return c, fmt.Errorf("write tar %s: %w", h.Name, err)
			}
			if h.Typeflag == tar.TypeReg {
				if _, err := tw.Write(e.Data); err != nil {
					return c, fmt.Errorf("write tar %s: %w", h.Name, err)
				}
			}
		}
		if err := tw.Close(); err != nil {
			return c, fmt.Errorf("write tar: %w", err)
		}
		return c, nil
	}
}

// bigFile is treegen.Update's threshold between big and small files.
const bigFile = 256 << 10

// UpdateStats says how an update differs from its base, by regular file.
type UpdateStats struct {
	BigFiles, BigEdited     int // base files ≥ 256 KiB, and those changed
	BigBytes, BigEditedB    int64
	SmallFiles, SmallEdited int
	Unchanged               int
	Added, Removed          int
	AddedBytes              int64
}

// CompareUpdate counts, by path, which regular files of base upd changed,
// added or removed.
func CompareUpdate(base, upd []treegen.Entry) UpdateStats {
	var s UpdateStats
	old := map[string][]byte{}
	for _, e := range base {
		if e.Header.Typeflag == tar.TypeReg {
			old[e.Header.Name] = e.Data
		}
	}
	seen := map[string]bool{}
	for _, e := range upd {
		if e.Header.Typeflag != tar.TypeReg {
			continue
		}
		seen[e.Header.Name] = true
		prev, ok := old[e.Header.Name]
		switch {
		case !ok:
			s.Added++
			s.AddedBytes += int64(len(e.Data))
		case bytes.Equal(prev, e.Data):
			s.Unchanged++
		case len(prev) >= bigFile:
			s.BigEdited++
			s.BigEditedB += int64(len(prev))
		default:
			s.SmallEdited++
		}
	}
	for name, data := range old {
		if len(data) >= bigFile {
			s.BigFiles++
			s.BigBytes += int64(len(data))
		} else {
			s.SmallFiles++
		}
		if !seen[name] {
			s.Removed++
		}
	}
	return s
}

func (s UpdateStats) String() string {
	return fmt.Sprintf("%d of %d big files (≥ 256 KiB; %.1f of %.1f MiB) edited in place (3 patched bytes, one inserted run of 0.1-4 KiB, one appended run of 0.5-8.5 KiB each), %d of %d small files rewritten (a line appended), %d files added (%.1f MiB of random data), %d removed, %d unchanged",
		s.BigEdited, s.BigFiles, mib(s.BigEditedB), mib(s.BigBytes), s.SmallEdited, s.SmallFiles, s.Added, mib(s.AddedBytes), s.Removed, s.Unchanged)
}
