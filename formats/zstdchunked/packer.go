package zstdchunked

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"unicode/utf8"

	"github.com/chunkdiff/chunkdiff/internal/keyset"
	"github.com/klauspost/compress/zstd"
	"github.com/vbatts/tar-split/tar/storage"
)

// hashPacker is tar-split's JSON packer (storage.NewJSONPacker) with its
// duplicate-path check done on 16-byte name keys sorted on disk
// (internal/keyset) instead of a set of the names: the same bytes out, and
// the writer's memory does not grow with the entry count. A repeated path
// is found at the end (repeated), not at the entry.
type hashPacker struct {
	enc  *json.Encoder
	pos  int
	seen *keyset.Set
}

func newHashPacker(w io.Writer, tempDir string) *hashPacker {
	return &hashPacker{enc: json.NewEncoder(w), seen: keyset.New(tempDir)}
}

// AddEntry implements storage.Packer exactly as tar-split's jsonPacker does.
func (p *hashPacker) AddEntry(e storage.Entry) (int, error) {
	if e.Name != "" && !utf8.ValidString(e.Name) {
		e.NameRaw = []byte(e.Name)
		e.Name = ""
	}
	if e.Type == storage.FileType {
		if err := p.seen.Add(pathKey(e.GetName())); err != nil {
			return -1, err
		}
	}
	e.Position = p.pos
	if err := p.enc.Encode(e); err != nil {
		return -1, err
	}
	p.pos++
	return e.Position, nil
}

var _ storage.Packer = (*hashPacker)(nil)

// pathKey is the key of a path as tar-split's packer compares paths.
func pathKey(name string) nameKey { return keyOf(filepath.Clean(name)) }

// repeatedPath returns the path of the file entry that repeats an earlier
// one with key k, reading the tar-split back (r, raw or zstd-compressed as
// stored): only failing conversions do.
func repeatedPath(r io.Reader, compressed bool, k nameKey) (string, error) {
	if compressed {
		dec, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return "", err
		}
		defer dec.Close()
		r = dec
	}
	d := json.NewDecoder(r)
	seen := false
	for {
		var e storage.Entry
		if err := d.Decode(&e); err != nil {
			return "", fmt.Errorf("a path repeats, but reading the tar-split back failed: %w", err)
		}
		if e.Type != storage.FileType || pathKey(e.GetName()) != k {
			continue
		}
		if seen {
			return e.GetName(), nil
		}
		seen = true
	}
}
