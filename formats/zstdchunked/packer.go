package zstdchunked

import (
	"encoding/json"
	"io"
	"path/filepath"
	"unicode/utf8"

	"github.com/vbatts/tar-split/tar/storage"
)

// hashPacker is tar-split's JSON packer (storage.NewJSONPacker) with its
// duplicate-path set kept as 16-byte name hashes instead of the names: the
// same bytes out and the same storage.ErrDuplicatePath, but the set costs
// 16 bytes per file however long the paths are, which is most of what the
// writer's memory would otherwise grow by with the entry count.
type hashPacker struct {
	enc  *json.Encoder
	pos  int
	seen map[nameKey]struct{}
}

func newHashPacker(w io.Writer) *hashPacker {
	return &hashPacker{enc: json.NewEncoder(w), seen: map[nameKey]struct{}{}}
}

// AddEntry implements storage.Packer exactly as tar-split's jsonPacker does.
func (p *hashPacker) AddEntry(e storage.Entry) (int, error) {
	if e.Name != "" && !utf8.ValidString(e.Name) {
		e.NameRaw = []byte(e.Name)
		e.Name = ""
	}
	if e.Type == storage.FileType {
		k := keyOf(filepath.Clean(e.GetName()))
		if _, dup := p.seen[k]; dup {
			return -1, storage.ErrDuplicatePath
		}
		p.seen[k] = struct{}{}
	}
	e.Position = p.pos
	if err := p.enc.Encode(e); err != nil {
		return -1, err
	}
	p.pos++
	return e.Position, nil
}

var _ storage.Packer = (*hashPacker)(nil)
