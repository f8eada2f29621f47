package layout

import (
	"archive/tar"
	"bytes"
	"io"
	"path"
	"strings"
	"testing"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func contents(t *testing.T, tarBytes []byte) map[string][]byte {
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(tarBytes))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			out[path.Clean("/"+h.Name)] = b
		}
	}
}

// Every chunk's range, decoded alone, yields exactly the file's bytes at the
// chunk's file offset: the ranges are right for upstream's writer.
func TestRangesDecodeToFileContents(t *testing.T) {
	tarBytes := testutil.TarBytes(t, testutil.RichTree(5))
	l := testutil.ZstdChunked(t, tarBytes)
	raw, dataEnd := testutil.TOC(t, l)
	items, err := build(toc.NewDecoder(bytes.NewReader(raw)), Options{DataEnd: dataEnd})
	require.NoError(t, err)
	want := contents(t, tarBytes)

	dec, err := zstd.NewReader(nil)
	require.NoError(t, err)
	defer dec.Close()
	var files, multi, zeros int
	for _, it := range items {
		if it.Entry.Type != toc.TypeReg || it.Entry.Size == 0 {
			assert.Empty(t, it.Chunks)
			continue
		}
		files++
		if len(it.Chunks) > 1 {
			multi++
		}
		got := make([]byte, it.Entry.Size)
		for j, c := range it.Chunks {
			require.NoError(t, dec.Reset(bytes.NewReader(l.Blob[c.Offset:c.End])))
			n, err := io.ReadFull(dec, got[c.FileOffset:c.FileOffset+c.Size])
			require.NoError(t, err, "%s chunk %d", it.Entry.Name, j)
			require.Equal(t, int(c.Size), n)
			if c.Zeros {
				zeros++
				assert.Equal(t, make([]byte, c.Size), got[c.FileOffset:c.FileOffset+c.Size])
			}
			if c.Digest != "" {
				assert.Equal(t, c.Digest, digest.FromBytes(got[c.FileOffset:c.FileOffset+c.Size]))
			}
		}
		name := path.Clean("/" + it.Entry.Name)
		require.Equal(t, want[name], got, name)
		assert.Equal(t, it.Entry.Digest, digest.FromBytes(got))
	}
	assert.Positive(t, multi, "the tree must have multi-chunk files")
	assert.Positive(t, zeros, "and zero chunks")
	assert.Equal(t, len(want)-countEmpty(want), files)
}

func countEmpty(m map[string][]byte) int {
	n := 0
	for _, b := range m {
		if len(b) == 0 {
			n++
		}
	}
	return n
}

// The refinement: a multi-chunk file's last chunk ends at its reg entry's
// endOffset, not at the next file's payload.
func TestLastChunkEndsAtEndOffset(t *testing.T) {
	doc := `{"version":1,"entries":[
	{"type":"reg","name":"a","size":20,"offset":100,"endOffset":300,"chunkSize":10,"chunkDigest":"sha256:aa"},
	{"type":"chunk","name":"a","offset":200,"chunkOffset":10,"chunkSize":10,"chunkDigest":"sha256:bb"},
	{"type":"dir","name":"d/"},
	{"type":"reg","name":"b","size":5,"offset":400,"endOffset":450}
	]}`
	items, err := build(toc.NewDecoder(strings.NewReader(doc)), Options{DataEnd: 1000})
	require.NoError(t, err)
	require.Len(t, items, 3)
	assert.Equal(t, []Chunk{
		{Offset: 100, End: 200, FileOffset: 0, Size: 10, Digest: "sha256:aa"},
		{Offset: 200, End: 300, FileOffset: 10, Size: 10, Digest: "sha256:bb"},
	}, items[0].Chunks)
	assert.Equal(t, []Chunk{{Offset: 400, End: 450, Size: 5}}, items[2].Chunks)
}

// eStargz landmarks never reach the layout: the format's Load leaves them
// out (formats/estargz TestSinkSeesTheLayerOnly).
func TestEStargzStyleRestOfFile(t *testing.T) {
	doc := `{"version":1,"entries":[
	{"type":"reg","name":"a","size":25,"offset":100,"chunkSize":10,"chunkDigest":"sha256:aa"},
	{"type":"chunk","name":"a","offset":200,"chunkOffset":10,"chunkSize":10,"chunkDigest":"sha256:bb"},
	{"type":"chunk","name":"a","offset":300,"chunkOffset":20,"chunkDigest":"sha256:cc"},
	{"type":"reg","name":"b","size":5,"offset":400,"chunkDigest":"sha256:dd"}
	]}`
	items, err := build(toc.NewDecoder(strings.NewReader(doc)), Options{DataEnd: 500})
	require.NoError(t, err)
	require.Len(t, items, 2)
	assert.Equal(t, Chunk{Offset: 300, End: 400, FileOffset: 20, Size: 5, Digest: "sha256:cc"}, items[0].Chunks[2], "size 0 means the rest")
	assert.Equal(t, Chunk{Offset: 400, End: 500, Size: 5, Digest: "sha256:dd"}, items[1].Chunks[0], "the last file ends at the data end")
}

func TestBadLayouts(t *testing.T) {
	tests := map[string]string{
		"orphan chunk":        `{"entries":[{"type":"dir","name":"d"},{"type":"chunk","name":"d","offset":5}]}`,
		"chunk of other file": `{"entries":[{"type":"reg","name":"a","size":2,"offset":5,"chunkSize":1},{"type":"chunk","name":"b","offset":6,"chunkOffset":1}]}`,
		"no payload offset":   `{"entries":[{"type":"reg","name":"a","size":2}]}`,
		"descending offsets":  `{"entries":[{"type":"reg","name":"a","size":2,"offset":50},{"type":"reg","name":"b","size":2,"offset":10}]}`,
		"outside data":        `{"entries":[{"type":"reg","name":"a","size":2,"offset":5000}]}`,
		"chunks too big":      `{"entries":[{"type":"reg","name":"a","size":2,"offset":5,"chunkSize":3}]}`,
		"chunks too small":    `{"entries":[{"type":"reg","name":"a","size":9,"offset":5,"chunkSize":3},{"type":"chunk","name":"a","offset":7,"chunkOffset":3,"chunkSize":3}]}`,
		"wrong chunk offset":  `{"entries":[{"type":"reg","name":"a","size":6,"offset":5,"chunkSize":3},{"type":"chunk","name":"a","offset":7,"chunkOffset":4,"chunkSize":3}]}`,
		"end before start":    `{"entries":[{"type":"reg","name":"a","size":2,"offset":50,"endOffset":20}]}`,
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := build(toc.NewDecoder(strings.NewReader(doc)), Options{DataEnd: 100})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "layout")
		})
	}
}

// build runs Build and reads every item back.
func build(dec *toc.Decoder, opts Options) ([]Item, error) {
	l, err := Build(dec, opts)
	if err != nil {
		return nil, err
	}
	defer func() { _ = l.Close() }()
	var items []Item
	s := l.Scan()
	for s.Next() {
		it := *s.Item()
		it.Chunks = append([]Chunk(nil), it.Chunks...)
		items = append(items, it)
	}
	return items, s.Err()
}
