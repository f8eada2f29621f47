package pull

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/testregistry"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	storage "go.podman.io/storage"
)

// quirkCase is one registry behaviour and the outcome the pull must reach.
type quirkCase struct {
	name    string
	quirk   testregistry.Quirk
	setup   func(f *testregistry.Faults)
	outcome Outcome
	// extra is what the wire may carry beyond the bound: what a reset
	// connection had in flight is sent again (all of it by a registry that
	// ignores ranges).
	extra int64
}

var quirkCases = []quirkCase{
	{name: "multi-range", quirk: testregistry.None, outcome: Partial},
	{name: "501", quirk: testregistry.Multi501, outcome: Partial},
	{name: "416", quirk: testregistry.Multi416, outcome: Partial},
	{name: "400-multi", quirk: testregistry.Multi400, outcome: Partial},
	{name: "200-whole", quirk: testregistry.Whole200, outcome: Full},
	{name: "200-content-range", quirk: testregistry.ContentRange200, outcome: Partial},
	{name: "206-other-range", quirk: testregistry.WrongRange, outcome: Full},
	{name: "cold-cache", quirk: testregistry.ColdCache, outcome: Full},
	{name: "400-all", quirk: testregistry.NoRanges, outcome: Full},
	{name: "reset-mid-body", setup: func(f *testregistry.Faults) { f.Reset(2, 50<<10) }, outcome: Partial, extra: 2 * 50 << 10},
	{name: "reset-single-ranges", quirk: testregistry.Multi501, setup: func(f *testregistry.Faults) { f.Reset(3, 20<<10) }, outcome: Partial, extra: 3 * 20 << 10},
	{name: "slow-body", setup: func(f *testregistry.Faults) { f.Stall(1, 10<<10, 3*time.Second) }, outcome: Partial},
	{name: "503", setup: func(f *testregistry.Faults) { f.Fail5xx(2) }, outcome: Partial},
	{name: "200-whole-reset", quirk: testregistry.Whole200, setup: func(f *testregistry.Faults) { f.Reset(2, 1<<20) }, outcome: Full, extra: 2 << 20},
	{name: "400-mid-layer", quirk: testregistry.RefuseLater, outcome: Full},
	{name: "400-all-reset", quirk: testregistry.NoRanges, setup: func(f *testregistry.Faults) { f.Reset(1, 1<<20) }, outcome: Full, extra: 1 << 20},
}

// updateStore returns a store holding the previous release, pulled from
// srv, and a function that removes whatever a test pulled on top.
func updateStore(t *testing.T, srv *testregistry.Server, base string) (storage.Store, func()) {
	t.Helper()
	store := overlayStore(t)
	baseRes := mustPull(t, store, base)
	return store, func() {
		images, err := store.Images()
		require.NoError(t, err)
		for _, img := range images {
			if img.ID != baseRes.ImageID {
				_, err := store.DeleteImage(img.ID, true)
				require.NoError(t, err)
			}
		}
	}
}

// Every quirk ends in the update image, correct, with the expected outcome;
// never a hard failure, a double download, a hang or a leaked goroutine.
func TestPullSurvivesRegistryQuirks(t *testing.T) {
	r := releases(t)
	srv := testregistry.Start(t)
	base := srv.Push(t, "test/app:1", r.base)
	update := srv.Push(t, "test/app:2", r.update)
	store, clean := updateStore(t, srv, base.Ref)
	want := testutil.TarSnapshot(t, r.updateTar)
	for _, tc := range quirkCases {
		t.Run(tc.name, func(t *testing.T) {
			defer clean()
			srv.Faults.Set(tc.quirk)
			if tc.setup != nil {
				tc.setup(srv.Faults)
			}
			defer srv.Faults.Set(testregistry.None)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			start := time.Now()
			res, err := Pull(ctx, store, update.Ref, options())
			require.NoError(t, err)
			assert.Less(t, time.Since(start), 20*time.Second)
			require.Len(t, res.Layers, 1)
			l := res.Layers[0]
			assert.Equal(t, tc.outcome, l.Outcome, "reason: %s", l.Reason)
			if tc.outcome == Full {
				assert.NotEmpty(t, l.Reason)
			}
			assert.Positive(t, l.Fetched)
			if tc.outcome == Full {
				assert.Zero(t, l.Skipped)
			} else {
				// What the differ never requested; the wire adds framing
				// and resent bytes, so it can only make skipped look smaller.
				require.NotNil(t, l.Dump)
				require.NotNil(t, l.Dump.Apply)
				assert.Equal(t, l.Dump.Apply.Skipped, l.Skipped)
				assert.GreaterOrEqual(t, l.Skipped, l.Size-l.Fetched)
			}
			assert.Equal(t, l.Fetched, res.Fetched)
			assert.Equal(t, update.ConfigDigest.Encoded(), res.ImageID)
			layer, err := store.Layer(l.LayerID)
			require.NoError(t, err)
			assert.Equal(t, r.update.DiffID, layer.UncompressedDigest)
			assert.Empty(t, testutil.Diff(want, layerTree(t, store, l.LayerID)))
			// Never twice: at most the blob plus what a refused first
			// response had in flight.
			wire := srv.Faults.BlobBytes.Load() - int64(len(update.Config))
			assert.LessOrEqual(t, wire, r.update.Size()*105/100+tc.extra, "bytes on the wire")
			ratio := "—"
			if tc.outcome == Partial {
				// A patch update fetches little more than what the store
				// lacks plus the metadata.
				require.NotNil(t, l.Dump)
				require.NotNil(t, l.Dump.Apply)
				m := l.Dump.Metadata
				bound := l.Dump.Apply.Reuse.LowerBound + int64(m.TOCCompressedSize) + int64(m.TarSplitCompressedSize)
				assert.LessOrEqual(t, float64(wire), 1.1*float64(bound)+float64(tc.extra), "wire vs lower bound %d", bound)
				ratio = fmt.Sprintf("%.3f× of %d", float64(wire)/float64(bound), bound)
			}
			// A row of docs/BENCHMARKS.md's table (config fetch excluded).
			t.Logf("| %s | %s | %d | %d | %.1f%% | %s |", tc.name, l.Outcome, srv.Faults.BlobRequests.Load()-1,
				wire, 100*float64(wire)/float64(r.update.Size()), ratio)
			requireNoLeak(t)
		})
	}
}

// Cancelling a pull mid-layer returns promptly with the context's error,
// leaves no goroutine and no image behind.
func TestPullCancelled(t *testing.T) {
	r := releases(t)
	srv := testregistry.Start(t)
	update := srv.Push(t, "test/app:2", r.update)
	store := overlayStore(t)
	srv.Faults.Stall(100, 1<<10, 10*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	o := options()
	o.Registry.Range.IdleTimeout = time.Minute
	time.AfterFunc(500*time.Millisecond, cancel)
	start := time.Now()
	_, err := Pull(ctx, store, update.Ref, o)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 5*time.Second)
	images, err := store.Images()
	require.NoError(t, err)
	assert.Empty(t, images)
	requireNoLeak(t)
}

// convert_images over a registry: a gzip layer is converted from one
// whole-blob request (even answered with 200); when the registry refuses
// that too, the layer falls back to an ordinary download instead of failing.
func TestPullConvertImages(t *testing.T) {
	tarBytes := testutil.TarBytes(t, testutil.RichTree(9))
	gz := testutil.Gzip(t, tarBytes)
	srv := testregistry.Start(t)
	img := srv.Push(t, "test/gzip:1", gz)
	for _, tc := range []struct {
		quirk   testregistry.Quirk
		outcome Outcome
		reason  string
	}{
		{testregistry.None, Converted, "converted it locally"},
		{testregistry.Whole200, Converted, "converted it locally"},
		{testregistry.NoRanges, Full, "whole-blob request"},
	} {
		t.Run(tc.quirk.String(), func(t *testing.T) {
			srv.Faults.Set(tc.quirk)
			defer srv.Faults.Set(testregistry.None)
			store := testutil.NewOverlayStore(t, map[string]string{"enable_partial_images": "true", "convert_images": "true"})
			res, err := Pull(context.Background(), store, img.Ref, options())
			require.NoError(t, err)
			l := res.Layers[0]
			assert.Equal(t, tc.outcome, l.Outcome)
			assert.Contains(t, l.Reason, tc.reason)
			layer, err := store.Layer(l.LayerID)
			require.NoError(t, err)
			assert.Equal(t, gz.DiffID, layer.UncompressedDigest)
			assert.Empty(t, testutil.Diff(testutil.TarSnapshot(t, tarBytes), layerTree(t, store, l.LayerID)))
			assert.LessOrEqual(t, srv.Faults.BlobBytes.Load()-int64(len(img.Config)), gz.Size()*105/100, "downloaded once")
			requireNoLeak(t)
		})
	}
}
