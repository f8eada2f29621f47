package index

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func raw(t *testing.T, d digest.Digest) *[32]byte {
	t.Helper()
	r, ok := sha256Bytes(d)
	require.True(t, ok, d)
	return &r
}

func smallFile(t *testing.T, dir string) (string, []digest.Digest) {
	t.Helper()
	b := &builder{}
	var ds []digest.Digest
	for i := range 40 {
		d := digest.FromString("file " + strconv.Itoa(i))
		ds = append(ds, d)
		b.add(d, "dir/file"+strconv.Itoa(i), 0, int64(i+1), true)
	}
	require.NoError(t, writeFile(dir, "layer", "fp", KindTOC, b.finish(), b.strs))
	return indexPath(dir, "layer"), ds
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p, ds := smallFile(t, dir)
	lf, err := loadFile(p, "layer", "fp", make([]byte, 4096))
	require.NoError(t, err)
	defer lf.unmap()
	assert.Equal(t, KindTOC, lf.kind)
	assert.Equal(t, 40, lf.n)
	for i, d := range ds {
		require.True(t, mayContain(lf.bloom, raw(t, d)))
		j, ok := lf.find(raw(t, d))
		require.True(t, ok)
		l, ok := lf.location(j)
		require.True(t, ok)
		assert.Equal(t, Location{Layer: "layer", Path: "dir/file" + strconv.Itoa(i), Length: int64(i + 1), Whole: true}, l)
	}
	_, ok := lf.find(raw(t, digest.FromString("absent")))
	assert.False(t, ok)

	_, err = loadFile(p, "layer", "other fingerprint", make([]byte, 4096))
	assert.ErrorIs(t, err, ErrStale)
	_, err = loadFile(p, "other", "fp", make([]byte, 4096))
	assert.ErrorIs(t, err, ErrStale)
	_, err = loadFile(filepath.Join(dir, "missing.cdx"), "layer", "fp", make([]byte, 4096))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

// Any single damaged byte or any truncation is caught: nothing of a damaged
// file is trusted.
func TestEveryDamageIsCaught(t *testing.T) {
	dir := t.TempDir()
	p, _ := smallFile(t, dir)
	good, err := os.ReadFile(p)
	require.NoError(t, err)
	buf := make([]byte, 1000) // smaller than the file: exercises chunked reads
	bad := filepath.Join(dir, "bad.cdx")
	for i := range good {
		b := append([]byte(nil), good...)
		b[i] ^= 0x01
		require.NoError(t, os.WriteFile(bad, b, 0o600))
		lf, err := loadFile(bad, "layer", "fp", buf)
		if !assert.Error(t, err, "byte %d flipped", i) {
			_ = lf.unmap()
			continue
		}
		assert.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrVersion), "byte %d: %v", i, err)
	}
	for n := range len(good) {
		require.NoError(t, os.WriteFile(bad, good[:n], 0o600))
		lf, err := loadFile(bad, "layer", "fp", buf)
		if !assert.ErrorIs(t, err, ErrCorrupt, "truncated to %d", n) {
			_ = lf.unmap()
		}
	}
	// Appended garbage too.
	require.NoError(t, os.WriteFile(bad, append(append([]byte(nil), good...), 0), 0o600))
	_, err = loadFile(bad, "layer", "fp", buf)
	assert.ErrorIs(t, err, ErrCorrupt)
}

// A file whose checksum is right but whose records point outside the string
// table (only a crafted file) yields no locations rather than a panic.
func TestCraftedRecordIsIgnored(t *testing.T) {
	dir := t.TempDir()
	d := digest.FromString("x")
	recs := []record{{digest: *raw(t, d), length: 1, strOff: 100, strLen: 5, flags: flagWhole}}
	require.NoError(t, writeFile(dir, "layer", "fp", KindTOC, recs, []byte("abc")))
	lf, err := loadFile(indexPath(dir, "layer"), "layer", "fp", make([]byte, 4096))
	require.NoError(t, err)
	defer lf.unmap()
	x := &Index{layers: []*layerFile{lf}, blooms: [][]byte{lf.bloom}}
	assert.Empty(t, x.Lookup(d))
}

func TestBloom(t *testing.T) {
	var recs []record
	for i := range 100000 {
		recs = append(recs, record{digest: *raw(t, digest.FromString("in "+strconv.Itoa(i)))})
	}
	f := newBloom(recs)
	assert.Equal(t, int(bloomBlocks(100000))*blockSize, len(f))
	for i := range recs {
		require.True(t, mayContain(f, &recs[i].digest), "false negative %d", i)
	}
	fp := 0
	const probes = 100000
	for i := range probes {
		if mayContain(f, raw(t, digest.FromString("out "+strconv.Itoa(i)))) {
			fp++
		}
	}
	t.Logf("false positives: %.3f%%", 100*float64(fp)/probes)
	assert.Less(t, fp, probes/200, "false-positive rate above 0.5%%")
	assert.False(t, mayContain(nil, &recs[0].digest), "an empty layer holds nothing")
}

func TestBuilderKeepsOnePerDigest(t *testing.T) {
	b := &builder{}
	d1, d2 := digest.FromString("one"), digest.FromString("two")
	b.add(d1, "a", 10, 5, false)
	b.add(d1, "b", 0, 5, true)
	b.add(d1, "c", 0, 5, true)
	b.add(d2, "d", 3, 4, false)
	b.add(d2, "e", 7, 4, false)
	b.add("sha512:abc", "f", 0, 1, true)
	b.add(digest.FromString("neg"), "g", -1, 1, false)
	b.add(digest.FromString("long"), strings.Repeat("p", maxPathLen+1), 0, 1, true)
	recs := b.finish()
	require.Len(t, recs, 2)
	assert.Equal(t, 3, b.skipped)
	byDigest := map[[32]byte]record{}
	for _, r := range recs {
		byDigest[r.digest] = r
	}
	r1 := byDigest[*raw(t, d1)]
	assert.Equal(t, "b", string(b.strs[r1.strOff:r1.strOff+uint32(r1.strLen)]), "a whole file beats a chunk, then the first")
	r2 := byDigest[*raw(t, d2)]
	assert.Equal(t, "d", string(b.strs[r2.strOff:r2.strOff+uint32(r2.strLen)]))
	assert.Equal(t, uint64(3), r2.offset)
	assert.Zero(t, r1.offset)
}

func TestLayerPath(t *testing.T) {
	for in, want := range map[string]string{
		"./etc/passwd": "etc/passwd",
		"usr/bin/x":    "usr/bin/x",
		"/abs/x":       "abs/x",
		"a/../../b":    "b",
		"a//b/./c":     "a/b/c",
		".":            "",
		"./":           "",
		"d/.wh.gone":   "",
		".wh..wh..opq": "",
	} {
		got, ok := layerPath(in)
		assert.Equal(t, want != "", ok, in)
		assert.Equal(t, want, got, in)
	}
}
