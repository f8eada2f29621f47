package differ

import (
	"os"
	"strings"
	"testing"

	dcontext "github.com/chunkdiff/chunkdiff/differ/context"
	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/formats"
	"github.com/chunkdiff/chunkdiff/formats/zstdchunked"
	"github.com/chunkdiff/chunkdiff/internal/spool"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	storage "go.podman.io/storage"
	"golang.org/x/sys/unix"
)

// The TOC limit below stands for upstream's 150 MiB: the rich layer's TOC is
// over it, so only the policy decides.
const smallTOCLimit = 64

func newWithLimits(t *testing.T, store storage.Store, l testutil.Layer, limits dcontext.Limits, src *testutil.Source) (*Differ, error) {
	t.Helper()
	d, err := New(t.Context(), Layer{Digest: l.Digest, Size: l.Size(), Annotations: l.Annotations, Source: src},
		Config{Store: store, ContentIndex: true, Limits: limits})
	require.NotNil(t, d)
	t.Cleanup(func() { _ = d.Close() })
	return d, err
}

// Policy stream pulls a layer whose TOC is over the limit, partially, to the
// DiffID of an ordinary pull, and the load transition says it streamed.
// Policy upstream falls back on the same layer, before any request.
func TestPolicyStreamPullsOverTheTOCLimit(t *testing.T) {
	l := zstdLayer(t)
	store := testutil.NewOverlayStore(t, partial)
	src := testutil.NewSource(l.Blob)
	d, err := newWithLimits(t, store, l, dcontext.Limits{MaxTOCSize: smallTOCLimit}, src)
	require.NoError(t, err)
	require.Equal(t, states.MetadataLoaded, d.State())
	load := d.Dump().History[len(d.Dump().History)-1]
	assert.Contains(t, load.Reason.Detail, "metadata policy stream")
	assert.Contains(t, load.Reason.Detail, "over upstream's in-memory limit of 64 bytes")

	out, err := store.PrepareStagedLayer(nil, d)
	require.NoError(t, err)
	layer := testutil.ApplyStaged(t, store, out, "")
	assert.Equal(t, digest.FromBytes(richTarLocked(t)), layer.UncompressedDigest)
	assert.Less(t, d.Dump().Apply.BytesFetched+d.Dump().Apply.MetadataBytes, l.Size(), "a partial pull")

	up := testutil.NewSource(l.Blob)
	_, err = newWithLimits(t, testutil.NewOverlayStore(t, partial), l,
		dcontext.Limits{MetadataPolicy: formats.PolicyUpstream, MaxTOCSize: smallTOCLimit}, up)
	var fb *FallbackError
	require.ErrorAs(t, err, &fb)
	assert.Equal(t, states.CodeMetadataTooLarge, fb.Reason.Code)
	assert.Empty(t, up.Requests())
}

// Through a store (podman, CRI-O), the policy is a pull option; a value that
// is neither policy is a configuration error naming the option.
func TestPolicyFromThePullOption(t *testing.T) {
	l := zstdLayer(t)
	store := testutil.NewOverlayStore(t, withOpts(partial, "chunkdiff_metadata_policy", "upstream"))
	_, err := newWithLimits(t, store, l, dcontext.Limits{MaxTOCSize: smallTOCLimit}, testutil.NewSource(l.Blob))
	var fb *FallbackError
	require.ErrorAs(t, err, &fb)
	assert.Equal(t, states.CodeMetadataTooLarge, fb.Reason.Code)

	// A policy set in the config wins over the store's.
	d, err := newWithLimits(t, store, l, dcontext.Limits{MetadataPolicy: formats.PolicyStream, MaxTOCSize: smallTOCLimit}, testutil.NewSource(l.Blob))
	require.NoError(t, err)
	assert.Equal(t, formats.PolicyStream, d.Context().Limits().MetadataPolicy)

	bad := testutil.NewOverlayStore(t, withOpts(partial, "chunkdiff_metadata_policy", "sometimes"))
	d, err = New(t.Context(), Layer{Digest: l.Digest, Size: l.Size(), Annotations: l.Annotations, Source: testutil.NewSource(l.Blob)},
		Config{Store: bad})
	assert.Nil(t, d)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "chunkdiff_metadata_policy")
	assert.Contains(t, err.Error(), `"sometimes"`)
}

// A TOC or tar-split that turns out truncated or lying while it streams
// fails the pull with an error naming it, and leaves nothing in the temp dir
// (the spools are unlinked) nor any descriptor open.
func TestStreamedMetadataFailsCleanly(t *testing.T) {
	l := zstdLayer(t)
	for name, tc := range map[string]struct {
		opt  testutil.SourceOption
		want string
	}{
		"TOC truncated":        {testutil.TruncateStreams(0, 100), "TOC"},
		"TOC corrupt":          {testutil.CorruptStreams(0), "TOC"},
		"tar-split truncated":  {testutil.TruncateStreams(1, 100), "tar-split"},
		"tar-split corrupt":    {testutil.CorruptStreams(1), "tar-split"},
		"TOC of another layer": {testutil.Lying(testutil.ZstdChunked(t, []byte(strings.Repeat("\x00", 1024))).Blob), "TOC"},
	} {
		t.Run(name, func(t *testing.T) {
			tmp := t.TempDir()
			before := openFDs(t)
			d, err := New(t.Context(), Layer{Digest: l.Digest, Size: l.Size(), Annotations: l.Annotations, Source: testutil.NewSource(l.Blob, tc.opt)},
				Config{Pull: &enabled, TempDir: tmp, Limits: dcontext.Limits{MaxTOCSize: smallTOCLimit}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, states.Failed, d.State())
			require.NoError(t, d.Close())
			left, rerr := os.ReadDir(tmp)
			require.NoError(t, rerr)
			assert.Empty(t, left, "nothing left in the temp dir")
			assert.LessOrEqual(t, openFDs(t), before, "no spool left open")
		})
	}
}

// A temp dir too small for the TOC and tar-split is found before anything
// is spooled: a fallback (an ordinary pull may still work, so even with
// convert_images), its reason naming the dir, and nothing written there.
func TestTempSpaceShortFallsBack(t *testing.T) {
	tmp := smallTmpfs(t, "1m")

	l := zstdLayer(t)
	ann, err := zstdchunked.ParseAnnotations(l.Annotations)
	require.NoError(t, err)
	need := ann.TOC.UncompressedLength + ann.TarSplit.UncompressedLength
	require.Greater(t, need, uint64(2*4096), "the layer's metadata must be larger than what is left free")

	fillLeaving(t, tmp, 4096)

	for _, pull := range []dcontext.PullOptions{enabled, {EnablePartialImages: true, ConvertImages: true}} {
		src := testutil.NewSource(l.Blob)
		d, err := New(t.Context(), Layer{Digest: l.Digest, Size: l.Size(), Annotations: l.Annotations, Source: src},
			Config{Pull: &pull, TempDir: tmp})
		require.NotNil(t, d)
		var fb *FallbackError
		require.ErrorAs(t, err, &fb, "convert_images=%v", pull.ConvertImages)
		assert.Equal(t, states.CodeTempSpaceShort, fb.Reason.Code)
		assert.Contains(t, err.Error(), tmp)
		assert.Empty(t, src.Requests(), "decided before any request")
		require.NoError(t, d.Close())
		left, err := os.ReadDir(tmp)
		require.NoError(t, err)
		assert.Len(t, left, 1, "only the filler")
	}
}

// smallTmpfs mounts a tmpfs of size (needs root, as the store tests do)
// for the test's duration and returns its path.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	testutil.RequireOverlay(t)
	dir := t.TempDir()
	require.NoError(t, unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size))
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// fillLeaving fills the file system of dir with a file "filler" so that
// about free bytes stay available.
func fillLeaving(t *testing.T, dir string, free uint64) {
	t.Helper()
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &st))
	avail := st.Bavail * uint64(st.Bsize)
	require.Greater(t, avail, free)
	require.NoError(t, os.WriteFile(dir+"/filler", make([]byte, avail-free), 0o600))
}

// Room for the spooled TOC and tar-split but not for the layout the load's
// one decoding pass writes beside them: the same fallback, decided before
// anything is requested, the layout's share counted in what is needed.
func TestTempSpaceShortForTheLayout(t *testing.T) {
	tmp := smallTmpfs(t, "2m")

	l := zstdLayer(t)
	ann, err := zstdchunked.ParseAnnotations(l.Annotations)
	require.NoError(t, err)
	spools := ann.TOC.UncompressedLength + ann.TarSplit.UncompressedLength
	require.Greater(t, ann.TOC.UncompressedLength, uint64(4*4096))
	fillLeaving(t, tmp, spools+2*4096+ann.TOC.UncompressedLength/2)

	src := testutil.NewSource(l.Blob)
	d, err := New(t.Context(), Layer{Digest: l.Digest, Size: l.Size(), Annotations: l.Annotations, Source: src},
		Config{Pull: &enabled, TempDir: tmp})
	require.NotNil(t, d)
	var fb *FallbackError
	require.ErrorAs(t, err, &fb)
	assert.Equal(t, states.CodeTempSpaceShort, fb.Reason.Code)
	var space *spool.NoSpaceError
	require.ErrorAs(t, err, &space)
	assert.Equal(t, spools+2*ann.TOC.UncompressedLength, space.Need, "the spools, the name keys and the layout (each bounded by the TOC's size)")
	h := d.Dump().History
	assert.Equal(t, states.Uninitialized, h[len(h)-1].From, "decided before the metadata was spooled")
	assert.Empty(t, src.Requests(), "decided before any request")
	require.NoError(t, d.Close())
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Len(t, left, 1, "only the filler")
}

// A TOC over maxStoredTOC is not handed to the store as big data (the
// store would hold it in memory whole): the layer is complete without it,
// the apply transition says so, and a later pull still reuses its files,
// looked up by path as in an ordinary layer.
func TestLargeTOCIsNotKeptAsBigData(t *testing.T) {
	old := maxStoredTOC
	maxStoredTOC = 16
	t.Cleanup(func() { maxStoredTOC = old })

	p := getPair(t)
	store := testutil.NewOverlayStore(t, partial)
	base, out, dump := pullOurs(t, store, p.base, "")
	assert.NotContains(t, out.BigData, bigDataTOC)
	require.NotNil(t, dump.Apply)
	assert.False(t, dump.Apply.TOCStored)
	last := dump.History[len(dump.History)-1]
	assert.Contains(t, last.Reason.Detail, "not kept as the layer's big data")
	names, err := store.ListLayerBigData(base.ID)
	require.NoError(t, err)
	assert.NotContains(t, names, bigDataTOC)
	assert.Equal(t, digest.FromBytes(p.baseTar), base.UncompressedDigest)

	maxStoredTOC = old
	upd, _, dump2 := pullOurs(t, store, p.upd, base.ID)
	assert.Equal(t, digest.FromBytes(p.updTar), upd.UncompressedDigest)
	require.NotNil(t, dump2.Apply)
	assert.True(t, dump2.Apply.TOCStored)
	assert.Positive(t, dump2.Apply.Reuse.FilesCopied+dump2.Apply.Reuse.FilesLinked, "files reused from the layer without its TOC")
}
