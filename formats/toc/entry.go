// Package toc holds the table-of-contents entry model shared by the
// zstd:chunked and eStargz readers, and a streaming decoder for it.
package toc

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
)

// Entry types (FORMATS.md "toc-schema"). The first seven map one-to-one to tar typeflags.
const (
	TypeReg      = "reg"
	TypeDir      = "dir"
	TypeSymlink  = "symlink"
	TypeHardlink = "hardlink"
	TypeChar     = "char"
	TypeBlock    = "block"
	TypeFifo     = "fifo"
	// TypeChunk describes a further chunk of the preceding "reg" entry.
	TypeChunk = "chunk"
)

// Chunk types. The empty string means ordinary data.
const (
	ChunkTypeData  = ""
	ChunkTypeZeros = "zeros"
)

// EmptyDigest is the digest a "reg" entry of size 0 gets when the TOC has
// none: the writer leaves it out, readers fill it in (like upstream).
const EmptyDigest = digest.Digest("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

// Entry is one TOC entry. Zero values mean "absent" (the writer uses
// omitempty for everything but type and name).
type Entry struct {
	Type     string
	Name     string
	LinkName string
	Mode     int64
	Size     int64
	UID      int
	GID      int
	// Times are zero when absent.
	ModTime    time.Time
	AccessTime time.Time
	ChangeTime time.Time
	DevMajor   int64
	DevMinor   int64
	// Xattrs maps names to the standard-base64 value as written in the JSON;
	// the strings are what the consistency check compares, DecodeXattrs gives
	// the raw bytes.
	Xattrs map[string]string
	// Digest and ChunkDigest are not validated by the decoder; consumers
	// parse them where they are used.
	Digest      digest.Digest
	Offset      int64
	EndOffset   int64
	ChunkSize   int64
	ChunkOffset int64
	ChunkDigest digest.Digest
	ChunkType   string
	// InnerOffset is eStargz-only; kept so the eStargz reader can reject it.
	InnerOffset int64
}

// DecodeXattrs returns the xattrs with their values base64-decoded.
func (e *Entry) DecodeXattrs() (map[string][]byte, error) {
	if len(e.Xattrs) == 0 {
		return nil, nil
	}
	out := make(map[string][]byte, len(e.Xattrs))
	for k, v := range e.Xattrs {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("toc: xattr %q of %q: %w", k, e.Name, err)
		}
		out[k] = b
	}
	return out, nil
}
