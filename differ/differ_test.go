package differ

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	dcontext "github.com/chunkdiff/chunkdiff/differ/context"
	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/formats"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var enabled = dcontext.PullOptions{EnablePartialImages: true}

func openZstd(t *testing.T, pull dcontext.PullOptions, opts ...dcontext.Option) (*Differ, testutil.Layer, error) {
	t.Helper()
	l := zstdLayer(t)
	opts = append([]dcontext.Option{dcontext.WithTempDir(t.TempDir())}, opts...)
	d, err := Open(t.Context(), pull, l.Digest, l.Size(), l.Annotations, testutil.NewSource(l.Blob), opts...)
	require.NotNil(t, d)
	t.Cleanup(func() { _ = d.Close() })
	return d, l, err
}

func TestOpenLoadsAndDumps(t *testing.T) {
	d, l, err := openZstd(t, enabled)
	require.NoError(t, err)
	assert.Equal(t, states.MetadataLoaded, d.State())

	dump := d.Dump()
	raw, err := json.Marshal(dump)
	require.NoError(t, err)
	var generic map[string]any
	require.NoError(t, json.Unmarshal(raw, &generic))
	assert.Equal(t, "metadata-loaded", generic["state"])
	ctx := generic["context"].(map[string]any)
	assert.Equal(t, "zstd:chunked", ctx["format"])
	assert.Equal(t, string(l.TOCDigest), ctx["toc_digest"])
	assert.EqualValues(t, l.Size(), ctx["blob_size"])
	hist := generic["history"].([]any)
	require.Len(t, hist, 1)
	step := hist[0].(map[string]any)
	assert.Equal(t, "uninitialized", step["from"])
	assert.Equal(t, "load", step["event"])
	assert.Equal(t, "metadata-loaded", step["to"])
	assert.NotZero(t, step["sizes"].(map[string]any)["entries"])

	require.NotNil(t, dump.Metadata)
	assert.Equal(t, l.TOCDigest, dump.Metadata.TOCDigest)
	assert.Positive(t, dump.Metadata.Entries)
	assert.Positive(t, dump.Metadata.UncompressedSize)
}

func TestCloseReleasesAndIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	d, _, err := openZstd(t, enabled, dcontext.WithTempDir(dir))
	require.NoError(t, err)
	require.NoError(t, d.Close())
	require.NoError(t, d.Close())
	assert.Equal(t, states.Closed, d.State())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "spool files are unlinked")
	// The dump survives Close, with the whole history.
	h := d.Dump().History
	assert.Equal(t, states.Closed, h[len(h)-1].To)
	assert.NotNil(t, d.Dump().Metadata)
}

func TestLimitsComeFromTheContext(t *testing.T) {
	// Under policy upstream, a TOC limit below the layer's TOC size makes
	// it a metadata-too-large fallback, decided before any request.
	l := zstdLayer(t)
	src := testutil.NewSource(l.Blob)
	d, err := Open(t.Context(), enabled, l.Digest, l.Size(), l.Annotations, src,
		dcontext.WithLimits(dcontext.Limits{MetadataPolicy: formats.PolicyUpstream, MaxTOCSize: 64}), dcontext.WithTempDir(t.TempDir()))
	t.Cleanup(func() { _ = d.Close() })
	var fb *FallbackError
	require.ErrorAs(t, err, &fb)
	assert.Equal(t, states.CodeMetadataTooLarge, fb.Reason.Code)
	assert.Contains(t, err.Error(), "limit")
	assert.Empty(t, src.Requests())
}

func TestCancelledContextFailsBeforeFetching(t *testing.T) {
	l := zstdLayer(t)
	src := testutil.NewSource(l.Blob)
	ctx, cancel := contextWithCancel(t)
	cancel()
	d, err := Open(ctx, enabled, l.Digest, l.Size(), l.Annotations, src, dcontext.WithTempDir(t.TempDir()))
	t.Cleanup(func() { _ = d.Close() })
	require.Error(t, err)
	assert.Equal(t, states.Failed, d.State())
	assert.Empty(t, src.Requests())
	// The machine is not wedged by the cancelled context (looplab/fsm#115).
	require.NoError(t, d.Close())
	assert.Equal(t, states.Closed, d.State())
}

func TestDumpTextNamesStateAndReason(t *testing.T) {
	l := gzipLayer(t)
	d, err := Open(t.Context(), enabled, l.Digest, l.Size(), l.Annotations, testutil.NewSource(l.Blob))
	t.Cleanup(func() { _ = d.Close() })
	require.True(t, IsFallback(err))
	var out textBuffer
	require.NoError(t, d.Dump().WriteText(&out))
	assert.Contains(t, out.String(), "state:    fallback")
	assert.Contains(t, out.String(), "no-toc")
	assert.Contains(t, out.String(), "--fall-back--> fallback")
}

func TestHistoryTimesAreOrdered(t *testing.T) {
	d, _, err := openZstd(t, enabled)
	require.NoError(t, err)
	require.NoError(t, d.Close())
	h := d.Dump().History
	for i := 1; i < len(h); i++ {
		assert.False(t, h[i].At.Before(h[i-1].At))
	}
	assert.WithinDuration(t, time.Now(), h[0].At, time.Minute)
}

func TestFallbackErrorUnwrapsCause(t *testing.T) {
	l := zstdLayer(t)
	src := testutil.NewSource(l.Blob, testutil.Refuse())
	d, err := Open(t.Context(), enabled, l.Digest, l.Size(), l.Annotations, src, dcontext.WithTempDir(t.TempDir()))
	t.Cleanup(func() { _ = d.Close() })
	var fb *FallbackError
	require.ErrorAs(t, err, &fb)
	assert.True(t, fb.CanConvert())
	assert.NotNil(t, errors.Unwrap(fb), "the source's refusal is kept as the cause")
}
