package zstdchunked

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
)

// ourLayer writes tarBytes with our writer and describes it like
// testutil's layers, so the same harness pulls both.
func ourLayer(t testing.TB, tarBytes []byte, opts ...WriterOption) (testutil.Layer, *Result) {
	t.Helper()
	var buf bytes.Buffer
	res, err := Compress(&buf, bytes.NewReader(tarBytes), opts...)
	if err != nil {
		t.Fatalf("Compress: %v", err)
	}
	if res.BlobSize != int64(buf.Len()) {
		t.Fatalf("Result.BlobSize %d, wrote %d", res.BlobSize, buf.Len())
	}
	return testutil.Layer{
		Blob:        buf.Bytes(),
		Annotations: res.Annotations.Map(),
		Digest:      digest.FromBytes(buf.Bytes()),
		DiffID:      res.DiffID,
		TOCDigest:   res.Annotations.TOCDigest,
	}, res
}

// wEntry is a TOC entry decoded with encoding/json, independently of the
// code under test.
type wEntry struct {
	Type        string            `json:"type"`
	Name        string            `json:"name"`
	LinkName    string            `json:"linkName"`
	Mode        int64             `json:"mode"`
	Size        int64             `json:"size"`
	UID         int               `json:"uid"`
	GID         int               `json:"gid"`
	ModTime     string            `json:"modtime"`
	AccessTime  string            `json:"accesstime"`
	ChangeTime  string            `json:"changetime"`
	DevMajor    int64             `json:"devMajor"`
	DevMinor    int64             `json:"devMinor"`
	Xattrs      map[string]string `json:"xattrs"`
	Digest      string            `json:"digest"`
	Offset      int64             `json:"offset"`
	EndOffset   int64             `json:"endOffset"`
	ChunkSize   int64             `json:"chunkSize"`
	ChunkOffset int64             `json:"chunkOffset"`
	ChunkDigest string            `json:"chunkDigest"`
	ChunkType   string            `json:"chunkType"`
}

type wTOC struct {
	Version        int      `json:"version"`
	Entries        []wEntry `json:"entries"`
	TarSplitDigest string   `json:"tarSplitDigest"`
}

func decodeWTOC(t testing.TB, raw []byte) wTOC {
	t.Helper()
	var d wTOC
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("TOC JSON: %v", err)
	}
	if dec.More() {
		t.Fatal("TOC JSON: trailing data")
	}
	return d
}

// chunkKey is what chunk-level dedup compares across producers.
type chunkKey struct {
	File        string
	ChunkOffset int64
	ChunkSize   int64
	ChunkType   string
	ChunkDigest string
}

func chunkList(d wTOC) []chunkKey {
	var out []chunkKey
	for _, e := range d.Entries {
		if e.Type == "reg" || e.Type == "chunk" {
			out = append(out, chunkKey{e.Name, e.ChunkOffset, e.ChunkSize, e.ChunkType, e.ChunkDigest})
		}
	}
	return out
}

// withoutOffsets blanks the compressed offsets, the only entry fields that
// depend on compressed sizes.
func withoutOffsets(d wTOC) []wEntry {
	out := make([]wEntry, len(d.Entries))
	for i, e := range d.Entries {
		e.Offset, e.EndOffset = 0, 0
		out[i] = e
	}
	return out
}

// blobTOC returns the raw TOC JSON of a compressed blob.
func blobTOC(t testing.TB, blob []byte, a Annotations) []byte {
	t.Helper()
	return zstdDecode(t, blob[a.TOC.Offset:a.TOC.Offset+a.TOC.Length])
}
