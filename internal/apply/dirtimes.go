//go:build linux

package apply

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/chunkdiff/chunkdiff/internal/spool"
	"golang.org/x/sys/unix"
)

// dirTimesLog keeps the directory times FinishDirs restores, in memory up
// to a constant and in an unlinked spool file beyond it, so a layer of
// millions of directories costs no more memory than a small one.
//
// The first directories (up to dirTimesMemBytes of names) are kept in a
// map, where a directory given again gets its new times in place. Any
// other directory is appended to the spool as a (name, times) record and
// the spool is replayed in order, so the last times given win there too: a
// name is either in the map or in the spool, never both, and setting one
// directory's times changes no other's, so the order between the two does
// not matter.
//
// Memory: at most dirTimesMemBytes of map (names plus ~96 bytes each) and
// a 64 KiB write or read buffer. Disk: ~10 to 30 bytes plus the name's
// length per directory beyond the map, released by close.
type dirTimesLog struct {
	tempDir  string
	mem      map[string][2]unix.Timespec
	memBytes int
	f        *os.File // nil until the first record is spooled
	w        *bufio.Writer
	records  int64
}

// dirTimesMemBytes bounds the map: name bytes plus a per-entry overhead.
// A variable so tests can cross the spill boundary with a few entries.
var dirTimesMemBytes = 256 << 10

// dirTimesOverhead is a map entry's cost besides its name's bytes.
const dirTimesOverhead = 96

const dirTimesBuffer = 64 << 10

// maxSpooledName bounds a name read back, against a damaged spool (a
// created directory's name is under PATH_MAX, 4096).
const maxSpooledName = 1 << 16

func newDirTimesLog(tempDir string) *dirTimesLog {
	return &dirTimesLog{tempDir: tempDir, mem: map[string][2]unix.Timespec{}}
}

// set records name's times (replacing any given before).
func (l *dirTimesLog) set(name string, ts [2]unix.Timespec) error {
	if _, ok := l.mem[name]; ok || l.f == nil && l.memBytes+len(name)+dirTimesOverhead <= dirTimesMemBytes {
		if !ok {
			l.memBytes += len(name) + dirTimesOverhead
		}
		l.mem[name] = ts
		return nil
	}
	if l.f == nil {
		f, err := spool.Open(l.tempDir)
		if err != nil {
			return fmt.Errorf("spooling directory times: %w", err)
		}
		l.f, l.w = f, bufio.NewWriterSize(f, dirTimesBuffer)
	}
	b := make([]byte, 0, binary.MaxVarintLen64*5+len(name))
	b = binary.AppendUvarint(b, uint64(len(name)))
	b = append(b, name...)
	for _, t := range ts {
		b = binary.AppendVarint(b, t.Sec)
		b = binary.AppendVarint(b, t.Nsec)
	}
	if _, err := l.w.Write(b); err != nil {
		return fmt.Errorf("spooling directory times of %q: %w", name, err)
	}
	l.records++
	return nil
}

// replay calls fn for every directory with its last times: the map's, then
// the spool's in order.
func (l *dirTimesLog) replay(fn func(name string, ts [2]unix.Timespec) error) error {
	for name, ts := range l.mem {
		if err := fn(name, ts); err != nil {
			return err
		}
	}
	if l.f == nil {
		return nil
	}
	if err := l.w.Flush(); err != nil {
		return fmt.Errorf("spooling directory times: %w", err)
	}
	r := bufio.NewReaderSize(io.NewSectionReader(l.f, 0, 1<<62), dirTimesBuffer)
	var name []byte
	for i := range l.records {
		n, err := binary.ReadUvarint(r)
		if err == nil && n > maxSpooledName {
			err = fmt.Errorf("a name of %d bytes", n)
		}
		if err == nil {
			if uint64(cap(name)) < n {
				name = make([]byte, n)
			}
			name = name[:n]
			_, err = io.ReadFull(r, name)
		}
		var ts [2]unix.Timespec
		for j := 0; j < 2 && err == nil; j++ {
			if ts[j].Sec, err = binary.ReadVarint(r); err == nil {
				ts[j].Nsec, err = binary.ReadVarint(r)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("reading spooled directory times back (record %d): %w", i, err)
		}
		if err := fn(string(name), ts); err != nil {
			return err
		}
	}
	return nil
}

// close releases the spool and empties the log.
func (l *dirTimesLog) close() error {
	l.mem, l.memBytes, l.records, l.w = map[string][2]unix.Timespec{}, 0, 0, nil
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
