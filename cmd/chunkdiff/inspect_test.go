package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeLayer(t *testing.T, l testutil.Layer, name string) string {
	t.Helper()
	dir := t.TempDir()
	blob := filepath.Join(dir, name+".tar.zst")
	require.NoError(t, os.WriteFile(blob, l.Blob, 0o644))
	ann, err := json.Marshal(l.Annotations)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".annotations.json"), ann, 0o644))
	return blob
}

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func TestInspectZstdChunked(t *testing.T) {
	tarBytes := testutil.TarBytes(t, testutil.RichTree(3))
	l := testutil.ZstdChunked(t, tarBytes)
	blob := writeLayer(t, l, "layer")

	out, err := run(t, "inspect", blob, "--temp-dir", t.TempDir())
	require.NoError(t, err)
	var dump struct {
		State   string `json:"state"`
		Context struct {
			BlobDigest string `json:"blob_digest"`
			Format     string `json:"format"`
		} `json:"context"`
		Metadata struct {
			Entries          int   `json:"entries"`
			UncompressedSize int64 `json:"uncompressed_size"`
		} `json:"metadata"`
		History []struct {
			Event string `json:"event"`
		} `json:"history"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &dump), out)
	assert.Equal(t, "metadata-loaded", dump.State)
	assert.Equal(t, string(l.Digest), dump.Context.BlobDigest, "the CLI hashes the blob")
	assert.Equal(t, "zstd:chunked", dump.Context.Format)
	assert.Equal(t, int64(len(tarBytes)), dump.Metadata.UncompressedSize)
	assert.Positive(t, dump.Metadata.Entries)
	require.Len(t, dump.History, 1, "the dump is taken before close")
	assert.Equal(t, "load", dump.History[0].Event)

	text, err := run(t, "inspect", blob, "--format", "text")
	require.NoError(t, err)
	assert.Contains(t, text, "state:    metadata-loaded")
}

func TestInspectFallbackIsNotAnError(t *testing.T) {
	l := testutil.Gzip(t, testutil.TarBytes(t, testutil.RichTree(3)))
	blob := writeLayer(t, l, "plain")
	out, err := run(t, "inspect", blob, "--format", "text")
	require.NoError(t, err)
	assert.Contains(t, out, "state:    fallback")
	assert.Contains(t, out, "no-toc")
}

func TestInspectPullOptions(t *testing.T) {
	l := testutil.ZstdChunked(t, testutil.TarBytes(t, testutil.RichTree(3)))
	blob := writeLayer(t, l, "layer")
	out, err := run(t, "inspect", blob, "--format", "text", "--pull-option", "enable_partial_images=false")
	require.NoError(t, err)
	assert.Contains(t, out, "partial-images-disabled")

	out, err = run(t, "inspect", blob, "--format", "text", "--max-toc-size", "100", "--metadata-policy", "upstream")
	require.NoError(t, err)
	assert.Contains(t, out, "metadata-too-large")

	_, err = run(t, "inspect", blob, "--metadata-policy", "never")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--metadata-policy")
}

func TestInspectErrors(t *testing.T) {
	l := testutil.ZstdChunked(t, testutil.TarBytes(t, testutil.RichTree(3)))
	blob := writeLayer(t, l, "layer")

	_, err := run(t, "inspect", blob, "--format", "yaml")
	assert.ErrorContains(t, err, "--format")
	_, err = run(t, "inspect", blob, "--pull-option", "novalue")
	assert.ErrorContains(t, err, "KEY=VALUE")
	missing := filepath.Join(t.TempDir(), "missing.tar.zst")
	_, err = run(t, "inspect", missing)
	assert.EqualError(t, err, "layer blob "+missing+": no such file", "the blob, not its annotations")

	bad := map[string]string{}
	for k, v := range l.Annotations {
		bad[k] = v
	}
	bad["io.github.containers.zstd-chunked.manifest-checksum"] = "sha256:" + string(bytes.Repeat([]byte("0"), 64))
	raw, err := json.Marshal(bad)
	require.NoError(t, err)
	annPath := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(annPath, raw, 0o644))
	out, err := run(t, "inspect", blob, "--annotations", annPath, "--format", "text")
	require.Error(t, err, "a hard error fails the command")
	assert.Contains(t, err.Error(), "digest")
	assert.Contains(t, out, "state:    failed", "the dump is still printed")
}
