package differ

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	storage "go.podman.io/storage"
)

// hangBound is how long a call may take to return after its context is
// cancelled before the test calls it hung. It is a liveness bound, not a
// speed goal: a fixed call returns in milliseconds, a broken one never.
const hangBound = 20 * time.Second

// stalledInSource are the goroutines allowed to outlive Close: a pump blocked
// in a source Read that ignores Close, or a GetBlobAt call that never
// returns (it is the source's to return).
var stalledInSource = []string{"testutil.(*stalled).Read", "testutil.(*Source).GetBlobAt"}

// runCancelled runs fn with a context it cancels once the source has
// received calls GetBlobAt calls (fn is then stuck on the scripted fault),
// and returns fn's error, failing the test if fn does not return within
// hangBound of the cancellation.
func runCancelled(t *testing.T, src *testutil.Source, calls int, fn func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	for src.Calls() < calls {
		select {
		case err := <-done:
			t.Fatalf("returned before reaching the fault: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	time.Sleep(20 * time.Millisecond) // let it block in the fault
	cancel()
	select {
	case err := <-done:
		return err
	case <-time.After(hangBound):
		t.Fatalf("still running %v after the context was cancelled", hangBound)
		return nil
	}
}

// A source whose metadata stream stalls, or that never sends a stream nor
// closes its channels, ends NewDiffer with the context's error once it is
// cancelled, and after Close no goroutine of ours is left.
func TestNewDifferEndsOnCancel(t *testing.T) {
	layer := zstdLayer(t)
	for name, opts := range map[string][]testutil.SourceOption{
		"stalled stream":            {testutil.Stall(-1, false)},
		"read ignores close":        {testutil.Stall(-1, true)},
		"channels never closed":     {testutil.StreamLimit(0), testutil.NeverClose()},
		"stream sent, never closed": {testutil.NeverClose(), testutil.Stall(-1, false)},
		"call never answered":       {testutil.StallCall()},
	} {
		t.Run(name, func(t *testing.T) {
			testutil.WaitNoGoroutines(t)
			src := testutil.NewSource(layer.Blob, opts...)
			store := testutil.NewOverlayStore(t, partial)
			var d *Differ
			err := runCancelled(t, src, 1, func(ctx context.Context) error {
				var err error
				d, err = OpenWithStore(ctx, store, layer.Digest, layer.Size(), layer.Annotations, src)
				return err
			})
			require.Error(t, err)
			assert.ErrorIs(t, err, context.Canceled)
			assert.Equal(t, states.Failed, d.State())
			require.NoError(t, d.Close())
			testutil.WaitNoGoroutines(t, stalledInSource...)
			src.Release()
			testutil.WaitNoGoroutines(t)
		})
	}
}

// The same faults on the content fetch end ApplyDiff (through the store's
// PrepareStagedLayer) once the context given to NewDiffer is cancelled,
// leave nothing staged, and no goroutine of ours after Close.
func TestApplyDiffEndsOnCancel(t *testing.T) {
	layer := zstdLayer(t)
	for name, opts := range map[string][]testutil.SourceOption{
		"stalled stream":         {testutil.FromCall(2, testutil.Stall(-1, false))},
		"read ignores close":     {testutil.FromCall(2, testutil.Stall(-1, true))},
		"channels never closed":  {testutil.FromCall(2, testutil.StreamLimit(0), testutil.NeverClose())},
		"all sent, never closed": {testutil.FromCall(2, testutil.NeverClose())},
		"call never answered":    {testutil.FromCall(2, testutil.StallCall())},
	} {
		t.Run(name, func(t *testing.T) { stageEndsOnCancel(t, layer, partial, 2, opts) })
	}
}

// stageEndsOnCancel pulls layer through the store (NewDiffer, then
// PrepareStagedLayer), cancels once the source has received calls calls,
// and checks that the pull failed with the cancellation, left no staging
// dir, and no goroutine of ours after Close.
func stageEndsOnCancel(t *testing.T, layer testutil.Layer, pull map[string]string, calls int, opts []testutil.SourceOption) {
	t.Helper()
	testutil.WaitNoGoroutines(t)
	src := testutil.NewSource(layer.Blob, opts...)
	store := testutil.NewOverlayStore(t, pull)
	var d *Differ
	var target string
	err := runCancelled(t, src, calls, func(ctx context.Context) error {
		var err error
		d, err = OpenWithStore(ctx, store, layer.Digest, layer.Size(), layer.Annotations, src)
		if err != nil {
			return err
		}
		return stageAndClean(t, store, d, &target)
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, states.Failed, d.State())
	require.NotEmpty(t, target)
	_, serr := os.Stat(target)
	assert.True(t, errors.Is(serr, os.ErrNotExist), "no staging dir left")
	require.NoError(t, d.Close())
	testutil.WaitNoGoroutines(t, stalledInSource...)
	src.Release()
	testutil.WaitNoGoroutines(t)
}

// stageAndClean runs PrepareStagedLayer and, as c/image does, cleans the
// staged layer up on failure.
func stageAndClean(t *testing.T, store storage.Store, d *Differ, target *string) error {
	out, err := store.PrepareStagedLayer(nil, d)
	if out != nil {
		*target = out.Target
		if err != nil {
			left, _ := os.ReadDir(out.Target)
			assert.Empty(t, left, "a failed apply leaves an empty staging dir")
		}
		require.NoError(t, store.CleanupStagedLayer(out))
	}
	return err
}

// convert_images downloads the whole blob through the same bounded call: a
// registry that accepts the request and never answers, or stalls mid-body,
// ends the conversion once the context is cancelled, with nothing staged.
func TestConvertEndsOnCancel(t *testing.T) {
	layer := gzipLayer(t)
	for name, opts := range map[string][]testutil.SourceOption{
		"call never answered": {testutil.StallCall()},
		"stalled stream":      {testutil.Stall(-1, false)},
	} {
		t.Run(name, func(t *testing.T) { stageEndsOnCancel(t, layer, partialConvert, 1, opts) })
	}
}
