package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testregistry"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.podman.io/storage/types"
)

func storeRoot(t *testing.T) string {
	t.Helper()
	root, err := os.MkdirTemp("", "chunkdiff-cli-pull-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	return root
}

// pull with --json and --dump, credentials from the docker config, against
// a registry that refuses multi-range requests.
func TestPullCommand(t *testing.T) {
	testutil.RequireOverlay(t)
	srv := testregistry.Start(t)
	t.Setenv("DOCKER_CONFIG", srv.DockerConfig(t, t.TempDir()))
	tarBytes := testutil.TarBytes(t, testutil.RichTree(4))
	l := testutil.ZstdChunked(t, tarBytes)
	img := srv.Push(t, "cli/app:1", l)
	srv.Faults.Set(testregistry.Multi501)

	root := storeRoot(t)
	dumps := filepath.Join(t.TempDir(), "dumps")
	out, err := run(t, "pull", "--store", root, "--tls-verify=false", "--json", "--dump", dumps, "docker://"+img.Ref)
	require.NoError(t, err, out)
	var res struct {
		Reference string   `json:"reference"`
		Names     []string `json:"names"`
		ImageID   string   `json:"image_id"`
		Layers    []struct {
			Outcome string `json:"outcome"`
			DiffID  string `json:"diff_id"`
		} `json:"layers"`
		Registry struct {
			SingleRanges *struct {
				Status int `json:"status"`
			} `json:"single_ranges"`
		} `json:"registry"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	assert.Equal(t, img.ConfigDigest.Encoded(), res.ImageID)
	assert.Equal(t, []string{img.Ref}, res.Names)
	require.Len(t, res.Layers, 1)
	assert.Equal(t, "partial", res.Layers[0].Outcome)
	assert.Equal(t, l.DiffID.String(), res.Layers[0].DiffID)
	require.NotNil(t, res.Registry.SingleRanges)
	assert.Equal(t, 501, res.Registry.SingleRanges.Status)
	files, err := os.ReadDir(dumps)
	require.NoError(t, err)
	require.Len(t, files, 1)
	raw, err := os.ReadFile(filepath.Join(dumps, files[0].Name()))
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"state": "applied"`)

	// Pulled again: the layer is already there.
	out, err = run(t, "pull", "--store", root, "--tls-verify=false", img.Ref)
	require.NoError(t, err, out)
	assert.Contains(t, out, "layer 0 "+l.Digest.Encoded()[:12]+": present")
	assert.Contains(t, out, "image:   "+img.ConfigDigest.Encoded())
}

// A registry that answers ranges with the whole blob: an ordinary download,
// reported with its reason.
func TestPullCommandFallback(t *testing.T) {
	testutil.RequireOverlay(t)
	srv := testregistry.Start(t)
	t.Setenv("DOCKER_CONFIG", srv.DockerConfig(t, t.TempDir()))
	img := srv.Push(t, "cli/app:1", testutil.ZstdChunked(t, testutil.TarBytes(t, testutil.RichTree(4))))
	srv.Faults.Set(testregistry.Whole200)
	out, err := run(t, "pull", "--store", storeRoot(t), "--tls-verify=false", img.Ref)
	require.NoError(t, err, out)
	assert.Contains(t, out, ": full (ranges-refused")
	assert.Contains(t, out, "skipped: 0 B = 0.0%")
}

func TestPullCommandErrors(t *testing.T) {
	_, err := run(t, "pull", "--pull-option", "novalue", "x/y:1")
	assert.ErrorContains(t, err, "KEY=VALUE")
	_, err = run(t, "pull")
	assert.Error(t, err)
	testutil.RequireOverlay(t)
	srv := testregistry.Start(t)
	t.Setenv("DOCKER_CONFIG", srv.DockerConfig(t, t.TempDir()))
	img := srv.Push(t, "cli/app:1", testutil.ZstdChunked(t, testutil.TarBytes(t, testutil.RichTree(4))))
	_, err = run(t, "pull", "--store", storeRoot(t), "--tls-verify=false", "--platform", "plan9", img.Ref)
	assert.ErrorContains(t, err, "OS/ARCH")
}

// The README's main command: the demo pair from a local registry, the
// update fetching a fraction of its blob.
func TestPullDemo(t *testing.T) {
	testutil.RequireOverlay(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	out, err := run(t, "pull-demo", "--dir", "../../testdata/demo")
	require.NoError(t, err, out)
	assert.Contains(t, out, "/demo/app:base")
	assert.Contains(t, out, "/demo/app:update")
	assert.Regexp(t, `layer 0 [0-9a-f]{12}: partial, fetched \d+ B for a \d+ B blob, skipped: \d+ B = [1-9]\d\.\d%`, out, "the update skipped most of its blob")
}

// Without --store, the configured store is used, as podman does, with the
// --pull-option values on top of its own pull options.
func TestPullStoreConfigured(t *testing.T) {
	testutil.RequireOverlay(t)
	root := storeRoot(t)
	store, err := pullStore("", map[string]string{"enable_partial_images": "true"}, func() (types.StoreOptions, error) {
		return types.StoreOptions{
			GraphRoot: filepath.Join(root, "graph"), RunRoot: filepath.Join(root, "run"), GraphDriverName: "overlay",
			PullOptions: map[string]string{"use_hard_links": "true"},
		}, nil
	})
	require.NoError(t, err)
	defer func() { _, _ = store.Shutdown(true) }()
	assert.Equal(t, filepath.Join(root, "graph"), store.GraphRoot())
	assert.Equal(t, map[string]string{"use_hard_links": "true", "enable_partial_images": "true"}, store.PullOptions())

	_, err = pullStore("", nil, func() (types.StoreOptions, error) { return types.StoreOptions{}, errors.New("bad storage.conf") })
	assert.ErrorContains(t, err, "bad storage.conf")
}
