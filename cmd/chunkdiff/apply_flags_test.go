package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// target is one way apply stages a layer: --dest or --store.
type target struct {
	name string
	args func(t *testing.T) []string
}

var targets = []target{
	{"dest", func(t *testing.T) []string { return []string{"--dest", filepath.Join(t.TempDir(), "out")} }},
	{"store", func(t *testing.T) []string {
		testutil.RequireOverlay(t)
		root, err := os.MkdirTemp("", "chunkdiff-cli-flags-")
		require.NoError(t, err)
		t.Cleanup(func() { _ = os.RemoveAll(root) })
		return []string{"--store", root}
	}},
}

// Every layer flag reaches the differ on both paths (the --store path used
// to drop --max-toc-size and --temp-dir).
func TestApplyPassesEveryFlag(t *testing.T) {
	l := testutil.ZstdChunked(t, testutil.TarBytes(t, testutil.RichTree(3)))
	blob := writeLayer(t, l, "layer")
	for _, tg := range targets {
		t.Run(tg.name+"/max-toc-size", func(t *testing.T) {
			args := append([]string{"apply", blob, "--max-toc-size", "100", "--metadata-policy", "upstream", "--dump", "--format", "text"}, tg.args(t)...)
			out, err := run(t, args...)
			require.Error(t, err, "a fallback applies nothing")
			assert.Contains(t, out, "metadata-too-large")
			assert.Contains(t, out, "limits:   toc 100 B")
			assert.Contains(t, out, "metadata policy upstream")
		})
		t.Run(tg.name+"/metadata-policy", func(t *testing.T) {
			args := append([]string{"apply", blob, "--max-toc-size", "100", "--dump", "--format", "text"}, tg.args(t)...)
			out, err := run(t, args...)
			require.NoError(t, err, out)
			assert.Contains(t, out, "metadata policy stream")
			assert.Contains(t, out, "streamed to disk instead of falling back")
		})
		t.Run(tg.name+"/temp-dir", func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"apply", blob, "--temp-dir", dir, "--dump", "--format", "json"}, tg.args(t)...)
			out, err := run(t, args...)
			require.NoError(t, err, out)
			quoted, _ := json.Marshal(dir)
			assert.Contains(t, out, `"temp_dir": `+string(quoted))

			notDir := filepath.Join(t.TempDir(), "file")
			require.NoError(t, os.WriteFile(notDir, nil, 0o644))
			args = append([]string{"apply", blob, "--temp-dir", notDir}, tg.args(t)...)
			_, err = run(t, args...)
			assert.ErrorContains(t, err, "--temp-dir", "checked before the differ, naming the flag")
		})
		t.Run(tg.name+"/pull-option", func(t *testing.T) {
			args := append([]string{"apply", blob, "--pull-option", "enable_partial_images=false"}, tg.args(t)...)
			_, err := run(t, args...)
			assert.ErrorContains(t, err, "partial-images-disabled")
		})
		t.Run(tg.name+"/annotations", func(t *testing.T) {
			// The blob alone, its annotations elsewhere: only the flag
			// finds them.
			dir := t.TempDir()
			lone := filepath.Join(dir, "lone.tar.zst")
			require.NoError(t, os.WriteFile(lone, l.Blob, 0o644))
			ann, err := json.Marshal(l.Annotations)
			require.NoError(t, err)
			annPath := filepath.Join(t.TempDir(), "elsewhere.json")
			require.NoError(t, os.WriteFile(annPath, ann, 0o644))

			_, err = run(t, append([]string{"apply", lone}, tg.args(t)...)...)
			assert.ErrorContains(t, err, "annotations")
			out, err := run(t, append([]string{"apply", lone, "--annotations", annPath, "--dump", "--format", "text"}, tg.args(t)...)...)
			require.NoError(t, err, out)
			assert.Contains(t, out, "toc:      "+l.TOCDigest.String())
		})
	}
}
