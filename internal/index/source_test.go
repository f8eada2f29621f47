package index

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type loc struct {
	path          string
	offset, lengt int64
	whole         bool
}

func contents(t *testing.T, b *builder) map[digest.Digest]loc {
	t.Helper()
	out := map[digest.Digest]loc{}
	for _, r := range b.finish() {
		d := digest.NewDigestFromBytes(digest.SHA256, r.digest[:])
		out[d] = loc{string(b.strs[r.strOff : r.strOff+uint32(r.strLen)]), int64(r.offset), int64(r.length), r.flags&flagWhole != 0}
	}
	return out
}

func dg(s string) digest.Digest { return digest.FromString(s) }

// A hand-written TOC covering what buildFromTOC must index and skip.
func tocJSON() string {
	e := func(s string, a ...any) string { return fmt.Sprintf(s, a...) }
	return `{"version":1,"entries":[` + strings.Join([]string{
		`{"type":"dir","name":"./usr/"}`,
		e(`{"type":"reg","name":"./usr/small","size":5,"digest":%q,"offset":10,"endOffset":20}`, dg("small")),
		`{"type":"reg","name":"./usr/empty"}`,
		e(`{"type":"reg","name":"usr/.wh.gone","size":3,"digest":%q,"offset":20}`, dg("wh")),
		e(`{"type":"reg","name":".prefetch.landmark","size":1,"digest":%q,"offset":25}`, dg("landmark")),
		// Three chunks: data, zeros, data (size "rest of the file").
		e(`{"type":"reg","name":"./usr/big","size":300,"digest":%q,"offset":30,"endOffset":90,"chunkSize":100,"chunkDigest":%q}`, dg("big"), dg("big0")),
		e(`{"type":"chunk","name":"./usr/big","offset":50,"chunkOffset":100,"chunkSize":150,"chunkDigest":%q,"chunkType":"zeros"}`, dg("zeros")),
		e(`{"type":"chunk","name":"./usr/big","offset":60,"chunkOffset":250,"chunkDigest":%q}`, dg("big2")),
		`{"type":"hardlink","name":"./usr/big.link","linkName":"./usr/big"}`,
		// Inconsistent chunks: the file is indexed, its bad chunks are not.
		e(`{"type":"reg","name":"./usr/odd","size":100,"digest":%q,"offset":100,"chunkSize":40,"chunkDigest":%q}`, dg("odd"), dg("odd0")),
		e(`{"type":"chunk","name":"./usr/odd","offset":110,"chunkOffset":50,"chunkSize":60,"chunkDigest":%q}`, dg("odd1")),
		// eStargz style: a single chunk whose digest is the file's.
		e(`{"type":"reg","name":"./usr/one","size":7,"digest":%q,"offset":120,"chunkSize":7,"chunkDigest":%q}`, dg("one"), dg("one")),
		e(`{"type":"reg","name":"./usr/bad","size":7,"digest":"sha256:nothex","offset":130}`),
	}, ",") + `]}`
}

func TestBuildFromTOC(t *testing.T) {
	b, err := buildFromTOC(strings.NewReader(tocJSON()), false)
	require.NoError(t, err)
	assert.Equal(t, map[digest.Digest]loc{
		dg("small"): {"usr/small", 0, 5, true},
		dg("big"):   {"usr/big", 0, 300, true},
		dg("big0"):  {"usr/big", 0, 100, false},
		dg("big2"):  {"usr/big", 250, 50, false},
		dg("odd"):   {"usr/odd", 0, 100, true},
		dg("odd0"):  {"usr/odd", 0, 40, false},
		dg("one"):   {"usr/one", 0, 7, true},
	}, contents(t, b))
}

func TestBuildFromTOCFlat(t *testing.T) {
	b, err := buildFromTOC(strings.NewReader(tocJSON()), true)
	require.NoError(t, err)
	flat := func(s string) string { e := dg(s).Encoded(); return e[:2] + "/" + e[2:] }
	got := contents(t, b)
	assert.Equal(t, loc{flat("big"), 0, 300, true}, got[dg("big")])
	assert.Equal(t, loc{flat("big"), 250, 50, false}, got[dg("big2")])
	assert.Equal(t, loc{flat("small"), 0, 5, true}, got[dg("small")])
	assert.NotContains(t, got, dg("wh"))
}

func TestBuildFromTOCSyntaxError(t *testing.T) {
	_, err := buildFromTOC(strings.NewReader(`{"entries":[{"type":"reg",`), false)
	assert.Error(t, err)
}

func TestBuildFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(p string, data []byte) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, p), data, 0o644))
	}
	big := bytes.Repeat([]byte("0123456789"), 100000)
	write("a/big", big)
	write("a/small", []byte("small"))
	write("a/empty", nil)
	write("a/.wh.x", []byte("whiteout marker"))
	require.NoError(t, os.Link(filepath.Join(dir, "a/big"), filepath.Join(dir, "b-link")))
	require.NoError(t, os.Symlink("a/small", filepath.Join(dir, "sym")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "fifo-dir"), 0o755))

	b, err := buildFromFiles(dir)
	require.NoError(t, err)
	sum := sha256.Sum256(big)
	got := contents(t, b)
	assert.Equal(t, map[digest.Digest]loc{
		digest.NewDigestFromBytes(digest.SHA256, sum[:]): {"a/big", 0, int64(len(big)), true},
		dg("small"): {"a/small", 0, 5, true},
	}, got)

	_, err = buildFromFiles(filepath.Join(dir, "missing"))
	assert.Error(t, err)
}
