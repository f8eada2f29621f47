// Package diffid recomputes a layer's DiffID (the digest of its uncompressed
// tar) from its tar-split and the files as they were written to disk. This is
// what makes a partial pull verifiable: the tar-split carries every byte of
// the tar except file payloads, and the payloads are read back from disk, so
// the digest describes exactly what was staged.
//
// It reassembles the tar itself rather than through tar-split's asm package:
// each line is bounded (MaxTarSplitLine), each payload is read for exactly
// its recorded size (a longer or shorter file on disk is an error, not a
// different tar), and names are not deduplicated in memory (the differ binds
// paths once, apply.Names).
package diffid

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"io"

	"github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/tar/storage"
)

// OpenFunc opens the payload of the tar entry called name (as written in the
// tar header) for reading.
type OpenFunc func(name string) (io.ReadCloser, error)

// ErrPayload is matched (errors.Is) by a *PayloadError.
var ErrPayload = errors.New("staged file differs from the tar-split")

// PayloadError reports a staged file whose bytes are not the ones the
// tar-split recorded (checksum or size).
type PayloadError struct {
	Name   string
	Reason string
}

func (e *PayloadError) Error() string {
	return fmt.Sprintf("payload of %q: %s", e.Name, e.Reason)
}

func (e *PayloadError) Unwrap() error { return ErrPayload }

// Compute reassembles the tar from tarSplit (uncompressed JSON lines) and
// open, and returns its digest and size.
func Compute(tarSplit io.Reader, open OpenFunc) (digest.Digest, int64, error) {
	d := digest.Canonical.Digester()
	cw := &countWriter{w: d.Hash()}
	if err := reassemble(cw, tarSplit, open); err != nil {
		return "", cw.n, fmt.Errorf("recomputing the layer digest from the tar-split: %w", err)
	}
	return d.Digest(), cw.n, nil
}

func reassemble(w io.Writer, tarSplit io.Reader, open OpenFunc) error {
	dec := json.NewDecoder(bufio.NewReaderSize(LimitLines(tarSplit, MaxTarSplitLine), 64<<10))
	crc := crc64.New(storage.CRCTable)
	buf := make([]byte, 128<<10)
	for line := 1; ; line++ {
		var e storage.Entry
		if err := dec.Decode(&e); err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("line %d: %w", line, err)
		}
		switch e.Type {
		case storage.SegmentType:
			if _, err := w.Write(e.Payload); err != nil {
				return err
			}
		case storage.FileType:
			if e.Size < 0 {
				return fmt.Errorf("line %d: file entry %q has size %d", line, e.GetName(), e.Size)
			}
			if e.Size == 0 {
				continue
			}
			if err := copyPayload(w, crc, buf, &e, open); err != nil {
				return err
			}
		default:
			return fmt.Errorf("line %d: unknown entry type %d", line, e.Type)
		}
	}
}

// copyPayload writes exactly e.Size bytes of the staged file and checks
// them against the recorded CRC-64 and that the file ends there.
func copyPayload(w io.Writer, crc hashReset, buf []byte, e *storage.Entry, open OpenFunc) error {
	name := e.GetName()
	rc, err := open(name)
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	crc.Reset()
	n, err := io.CopyBuffer(io.MultiWriter(w, crc), io.LimitReader(rc, e.Size), buf)
	if err != nil {
		return fmt.Errorf("reading %q: %w", name, err)
	}
	if n != e.Size {
		return &PayloadError{Name: name, Reason: fmt.Sprintf("%d bytes on disk, the tar-split has %d", n, e.Size)}
	}
	if k, _ := rc.Read(buf[:1]); k > 0 {
		return &PayloadError{Name: name, Reason: fmt.Sprintf("longer on disk than the %d bytes the tar-split has", e.Size)}
	}
	if !bytes.Equal(crc.Sum(nil), e.Payload) {
		return &PayloadError{Name: name, Reason: "CRC-64 differs from the tar-split's"}
	}
	return nil
}

type hashReset interface {
	io.Writer
	Reset()
	Sum([]byte) []byte
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
