// Package diffid recomputes a layer's DiffID (the digest of its uncompressed
// tar) from its tar-split and the files as they were written to disk. This is
// what makes a partial pull verifiable: the tar-split carries every byte of
// the tar except file payloads, and a CRC-64 of each payload, so the result
// equals the original tar only if every file on disk is exactly right.
package diffid

import (
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"
)

// OpenFunc opens the payload of the tar entry called name (as written in the
// tar header) for reading.
type OpenFunc func(name string) (io.ReadCloser, error)

// getter adapts an OpenFunc to tar-split's FileGetter.
type getter OpenFunc

func (g getter) Get(name string) (io.ReadCloser, error) { return g(name) }

// Compute reassembles the tar from tarSplit (uncompressed JSON lines) and
// open, and returns its digest and size. A file whose content differs from
// what the tar-split recorded fails with tar-split's CRC error.
func Compute(tarSplit io.Reader, open OpenFunc) (digest.Digest, int64, error) {
	rc := asm.NewOutputTarStream(getter(open), storage.NewJSONUnpacker(tarSplit))
	defer rc.Close()
	d := digest.Canonical.Digester()
	n, err := io.Copy(d.Hash(), rc)
	if err != nil {
		return "", n, fmt.Errorf("recomputing the layer digest from the tar-split: %w", err)
	}
	return d.Digest(), n, nil
}
