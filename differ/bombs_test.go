package differ

import (
	"archive/tar"
	"bytes"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/internal/apply"
	"github.com/chunkdiff/chunkdiff/internal/diffid"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bytesAllocated runs fn and returns the bytes it allocated (TotalAlloc: every
// allocation counts, freed or not, so this bounds peak heap from above).
func bytesAllocated(fn func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// lineBomb is a small layer whose tar-split holds one JSON line of n bytes
// (it compresses to a few KB).
func lineBomb(t *testing.T, n int) testutil.Layer {
	tarBytes := testutil.TarBytes(t, []testutil.Entry{{Header: hostileHdr(tar.TypeReg, "f", "", 0o644), Data: []byte("x")}})
	c := testutil.Craft(t, testutil.ZstdChunked(t, tarBytes))
	var ts bytes.Buffer
	ts.WriteString(`{"type":2,"payload":"`)
	ts.WriteString(strings.Repeat("A", n))
	ts.WriteString("\"}\n")
	c.RawTarSplit = ts.Bytes()
	return c.Build(t)
}

// bombAllocBound is what loading a layer may allocate however long its
// tar-split's lines: a few times diffid.MaxTarSplitLine (the JSON decoder's
// buffer grows by doubling) plus the fixed cost of decoders and buffers.
const bombAllocBound = 6*diffid.MaxTarSplitLine + 16<<20

// A tar-split line over diffid.MaxTarSplitLine fails NewDiffer with a typed
// error, allocating a bounded amount whatever the line's length (unbounded,
// a 64 MiB line took 401 MB RSS and a 256 MiB one 1.38 GB).
func TestTarSplitLineBomb(t *testing.T) {
	for _, n := range []int{64 << 20, 256 << 20} {
		layer := lineBomb(t, n)
		t.Logf("%d MiB line: blob of %d bytes", n>>20, layer.Size())
		store := testutil.NewOverlayStore(t, partial)
		var err error
		alloc := bytesAllocated(func() {
			var d *Differ
			d, err = OpenWithStore(t.Context(), store, layer.Digest, layer.Size(), layer.Annotations, testutil.NewSource(layer.Blob))
			if d != nil {
				_ = d.Close()
			}
		})
		require.Error(t, err)
		assert.ErrorIs(t, err, diffid.ErrLineTooLong)
		t.Logf("%d MiB line: %d MiB allocated, bound %d MiB: %v", n>>20, alloc>>20, bombAllocBound>>20, err)
		assert.Less(t, alloc, uint64(bombAllocBound), "allocation bounded by MaxTarSplitLine")
	}
}

// A file declared as one 1 PiB chunk of zeros is refused before anything
// is staged (it once ran for minutes reading back the hole), and the failed
// pull leaves nothing staged or mounted.
func TestPetabyteOfZeros(t *testing.T) {
	tarBytes := testutil.TarBytes(t, []testutil.Entry{
		{Header: hostileHdr(tar.TypeReg, "small", "", 0o644), Data: []byte("fits")},
		{Header: hostileHdr(tar.TypeReg, "big", "", 0o644), Data: make([]byte, 4096)},
	})
	c := testutil.Craft(t, testutil.ZstdChunked(t, tarBytes))
	const pib = int64(1) << 50
	c.SetFileSize(t, "big", pib)
	e := c.Entry(t, "big")
	e["chunkType"], e["chunkSize"] = "zeros", pib
	layer := c.Build(t)

	store := testutil.NewOverlayStore(t, partial)
	// Only this store's mounts: other packages' tests mount stores of their
	// own meanwhile.
	mine := func() []string {
		return append(mountsUnder(t, store.GraphRoot()), mountsUnder(t, store.RunRoot())...)
	}
	mountsBefore := mine()
	d, err := OpenWithStore(t.Context(), store, layer.Digest, layer.Size(), layer.Annotations, testutil.NewSource(layer.Blob))
	require.NoError(t, err)
	defer d.Close()
	var perr error
	var target string
	alloc := bytesAllocated(func() {
		out, err := store.PrepareStagedLayer(nil, d)
		perr = err
		if out != nil {
			target = out.Target
			left, _ := os.ReadDir(out.Target)
			assert.Empty(t, left, "nothing staged")
			require.NoError(t, store.CleanupStagedLayer(out))
		}
	})
	require.Error(t, perr)
	assert.ErrorIs(t, perr, apply.ErrTooLarge)
	assert.Contains(t, perr.Error(), "1125899906842628 bytes") // 1 PiB + "fits"
	assert.Equal(t, states.Failed, d.State())
	t.Logf("%d KiB allocated: %v", alloc>>10, perr)
	assert.Less(t, alloc, uint64(16<<20))
	require.NotEmpty(t, target)
	_, serr := os.Stat(target)
	assert.True(t, os.IsNotExist(serr), "no staging dir left")
	assert.Equal(t, mountsBefore, mine(), "no mount left behind")
}

// mountPoints lists the mount points in /proc/self/mountinfo.
func mountPoints(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 {
			out = append(out, f[4])
		}
	}
	return out
}
