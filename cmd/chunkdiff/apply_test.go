package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.podman.io/storage/pkg/reexec"
)

func TestMain(m *testing.M) {
	if reexec.Init() { // store operations re-execute the test binary
		return
	}
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func TestApplyIntoDirectory(t *testing.T) {
	tarBytes := testutil.TarBytes(t, testutil.RichTree(4))
	l := testutil.ZstdChunked(t, tarBytes)
	blob := writeLayer(t, l, "layer")
	dest := filepath.Join(t.TempDir(), "out")

	out, err := run(t, "apply", blob, "--dest", dest, "--dump")
	require.NoError(t, err, out)
	assert.Contains(t, out, ": applied")
	assert.Contains(t, out, "diffid:  "+digest.FromBytes(tarBytes).String())
	assert.Contains(t, out, "--apply--> applied")
	assert.Empty(t, testutil.Diff(testutil.TarSnapshot(t, tarBytes), testutil.Snapshot(t, dest)))
}

func TestApplyIntoStore(t *testing.T) {
	testutil.RequireOverlay(t)
	tarBytes := testutil.TarBytes(t, testutil.RichTree(4))
	blob := writeLayer(t, testutil.ZstdChunked(t, tarBytes), "layer")
	root, err := os.MkdirTemp("", "chunkdiff-cli-store-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(root) })

	out, err := run(t, "apply", blob, "--store", root)
	require.NoError(t, err, out)
	assert.Regexp(t, regexp.MustCompile(`id: +[0-9a-f]{64}`), out)
	assert.Contains(t, out, digest.FromBytes(tarBytes).String())
}

func TestApplyNeedsOneTarget(t *testing.T) {
	blob := writeLayer(t, testutil.ZstdChunked(t, testutil.TarBytes(t, testutil.RichTree(4))), "layer")
	_, err := run(t, "apply", blob)
	assert.ErrorContains(t, err, "exactly one")
	_, err = run(t, "apply", blob, "--dest", t.TempDir(), "--store", t.TempDir())
	assert.ErrorContains(t, err, "exactly one")
}

func TestApplyFallbackIsReported(t *testing.T) {
	blob := writeLayer(t, testutil.Gzip(t, testutil.TarBytes(t, testutil.RichTree(4))), "plain")
	out, err := run(t, "apply", blob, "--dest", t.TempDir())
	require.Error(t, err, "nothing was applied")
	assert.ErrorContains(t, err, blob+" is not a zstd:chunked or eStargz layer (it is gzip-compressed, no TOC annotation in")
	assert.Empty(t, out, "no summary of a pull that did not happen")
}

func TestDemo(t *testing.T) {
	testutil.RequireOverlay(t)
	out, err := run(t, "demo", "--dir", "../../testdata/demo")
	require.NoError(t, err, out)
	assert.Contains(t, out, "update.tar.zst: applied")
	assert.Contains(t, out, "state:    applied")
}

func TestApplyEStargz(t *testing.T) {
	tarBytes := testutil.TarBytes(t, testutil.RichTree(4))
	blob := writeLayer(t, testutil.EStargz(t, tarBytes, 64<<10, nil), "layer")
	// Without the insecure option eStargz cannot be verified: a fallback.
	out, err := run(t, "inspect", blob, "--format", "text")
	require.NoError(t, err)
	assert.Contains(t, out, "estargz-unverifiable")

	dest := filepath.Join(t.TempDir(), "out")
	out, err = run(t, "apply", blob, "--dest", dest,
		"--pull-option", "enable_partial_images=true",
		"--pull-option", "insecure_allow_unpredictable_image_contents=true")
	require.NoError(t, err, out)
	assert.Contains(t, out, ": applied")
	want := testutil.TarSnapshot(t, tarBytes)
	assert.Empty(t, testutil.Diff(want, testutil.Snapshot(t, dest)))
}
