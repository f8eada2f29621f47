package differ

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.podman.io/storage/pkg/chunked"
)

// convert_images with a gzip layer: the same files and DiffID as an ordinary
// pull of that blob, and the dump shows the convert transition and why.
func TestConvertImagesGzip(t *testing.T) {
	tarBytes := richTarLocked(t)
	layer := gzipLayer(t)
	store := testutil.NewOverlayStore(t, partialConvert)
	l, out, dump := pullOurs(t, store, layer, "")

	assert.Equal(t, digest.FromBytes(tarBytes), out.UncompressedDigest)
	assert.Equal(t, layer.Digest, out.CompressedDigest)
	assert.Empty(t, out.TOCDigest, "a converted layer's TOC is local")
	assert.Equal(t, int64(len(tarBytes)), out.Size)
	assert.Equal(t, digest.FromBytes(tarBytes), digest.FromBytes(testutil.LayerTar(t, store, l.ID)))

	var events []states.Event
	for _, tr := range dump.History {
		events = append(events, tr.Event)
	}
	assert.Equal(t, []states.Event{states.PlanConvert, states.Convert, states.Prepare, states.Apply}, events)
	assert.Equal(t, states.CodeNoTOC, dump.History[0].Reason.Code)
	assert.Contains(t, dump.History[1].Reason.Detail, "gzip")
	assert.Contains(t, dump.History[1].Reason.Detail, "no-toc")

	plain := testutil.NewOverlayStore(t, nil)
	ordinary := testutil.PutLayer(t, plain, layer.Blob, "")
	assert.Equal(t, ordinary.UncompressedDigest, l.UncompressedDigest)
	assert.Empty(t, testutil.Diff(
		testutil.Snapshot(t, testutil.LayerDir(t, plain, ordinary.ID)),
		testutil.Snapshot(t, testutil.LayerDir(t, store, l.ID))))
}

// Every "can convert" reason converts: ranges refused, no tar-split, eStargz
// without the insecure option.
func TestConvertImagesOtherReasons(t *testing.T) {
	for _, tc := range []struct {
		name  string
		layer func(t *testing.T) testutil.Layer
		opts  []testutil.SourceOption
		code  states.Code
	}{
		{"ranges refused", zstdLayer, []testutil.SourceOption{testutil.RefuseCall(1)}, states.CodeRangesRefused},
		{"no tar-split", withoutTarSplit, nil, states.CodeNoTarSplit},
		{"eStargz", estargzLayer, nil, states.CodeEStargzUnverifiable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layer := tc.layer(t)
			store := testutil.NewOverlayStore(t, partialConvert)
			d, err := OpenWithStore(t.Context(), store, layer.Digest, layer.Size(), layer.Annotations, testutil.NewSource(layer.Blob, tc.opts...))
			require.NoError(t, err)
			defer d.Close()
			out, err := store.PrepareStagedLayer(nil, d)
			require.NoError(t, err)
			defer store.CleanupStagedLayer(out)
			assert.Equal(t, tc.code, d.Dump().History[len(d.Dump().History)-4].Reason.Code)
			assert.NotEmpty(t, out.UncompressedDigest)
			assert.Equal(t, layer.Digest, out.CompressedDigest)
		})
	}
}

// A corrupt gzip, a blob that is not the announced one, and a truncated
// download fail clearly (not as a fallback: conversion was the fallback) and
// leave no staging leftovers.
func TestConvertImagesFailures(t *testing.T) {
	good := gzipLayer(t)
	corrupt := bytes.Clone(good.Blob)
	corrupt[len(corrupt)/2] ^= 0xff
	for _, tc := range []struct {
		name   string
		blob   []byte
		digest digest.Digest
		opts   []testutil.SourceOption
		want   string
	}{
		{"corrupt gzip", corrupt, digest.FromBytes(corrupt), nil, "gzip"},
		{"wrong blob digest", good.Blob, digest.FromString("another blob"), nil, "digest"},
		{"truncated download", good.Blob, good.Digest, []testutil.SourceOption{testutil.TruncateStreams(0, 4096)}, "convert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := testutil.NewOverlayStore(t, partialConvert)
			d, err := OpenWithStore(t.Context(), store, tc.digest, int64(len(tc.blob)), good.Annotations, testutil.NewSource(tc.blob, tc.opts...))
			require.NoError(t, err)
			defer d.Close()
			require.Equal(t, states.ConvertPending, d.State())
			out, err := store.PrepareStagedLayer(nil, d)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			var fb chunked.ErrFallbackToOrdinaryLayerDownload
			assert.NotErrorAs(t, err, &fb)
			assert.Equal(t, states.Failed, d.State())
			left, rerr := os.ReadDir(out.Target)
			require.NoError(t, rerr)
			assert.Empty(t, left)
			require.NoError(t, store.CleanupStagedLayer(out))
			_, serr := os.Stat(filepath.Dir(out.Target))
			assert.True(t, os.IsNotExist(serr))
		})
	}
}

// convert_images when the source refuses even the whole-blob request: the
// fallback error (an ordinary download may still work), not a hard
// failure, with the reason recorded as the fall-back transition.
func TestConvertImagesWholeBlobRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		layer func(t *testing.T) testutil.Layer
		opts  []testutil.SourceOption
	}{
		"gzip":    {gzipLayer, []testutil.SourceOption{testutil.Refuse()}},
		"eStargz": {estargzLayer, []testutil.SourceOption{testutil.Refuse()}},
	} {
		t.Run(name, func(t *testing.T) {
			layer := tc.layer(t)
			store := testutil.NewOverlayStore(t, partialConvert)
			d, err := OpenWithStore(t.Context(), store, layer.Digest, layer.Size(), layer.Annotations, testutil.NewSource(layer.Blob, tc.opts...))
			require.NoError(t, err)
			defer d.Close()
			require.Equal(t, states.ConvertPending, d.State())
			out, err := store.PrepareStagedLayer(nil, d)
			if out != nil {
				_ = store.CleanupStagedLayer(out)
			}
			require.Error(t, err)
			assert.True(t, IsFallback(err), "an ordinary download is still possible: %v", err)
			var fe *FallbackError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, states.CodeRangesRefused, fe.Reason.Code)
			var bad chunked.ErrBadRequest
			assert.ErrorAs(t, err, &bad)
			dump := d.Dump()
			assert.Equal(t, states.Fallback, dump.State)
			last := dump.History[len(dump.History)-1]
			assert.Equal(t, states.ConvertPending, last.From)
			assert.Equal(t, states.FallBack, last.Event)
			assert.Contains(t, last.Reason.Detail, "whole-blob request")
		})
	}
}
