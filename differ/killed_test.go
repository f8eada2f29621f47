package differ

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	storage "go.podman.io/storage"
	"go.podman.io/storage/types"
)

const killedPullEnv = "CHUNKDIFF_TEST_KILLED_PULL_ROOT"

func killedPullStore(t *testing.T, root string) storage.Store {
	s, err := storage.GetStore(types.StoreOptions{RunRoot: filepath.Join(root, "run"), GraphRoot: filepath.Join(root, "graph"),
		GraphDriverName: "overlay", PullOptions: partial})
	require.NoError(t, err)
	return s
}

// mountsUnder lists mount points at or below root.
func mountsUnder(t *testing.T, root string) []string {
	var out []string
	for _, m := range mountPoints(t) {
		if m == root || strings.HasPrefix(m, root+"/") {
			out = append(out, m)
		}
	}
	return out
}

// A pull killed with SIGKILL in the middle of ApplyDiff cannot clean up
// after itself: it leaves its staging directory and the overlay driver's
// home mount. Both are gone once the store is opened and shut down again
// (the driver prunes staging directories whose lock is free), so nothing
// of the killed pull survives a restart.
func TestKilledPullLeavesNothingAfterRestart(t *testing.T) {
	testutil.RequireOverlay(t)
	root, err := os.MkdirTemp("", "chunkdiff-killed-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledPullHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), killedPullEnv+"="+root)
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	// Wait for the helper to be inside ApplyDiff: the staging directory
	// has the layer's first entries.
	staging := filepath.Join(root, "graph", "overlay", "staging")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		dirs, _ := filepath.Glob(filepath.Join(staging, "*", "dir", "*"))
		if len(dirs) > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("helper ended before staging anything: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("helper never started staging")
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Kill())
	<-done
	left, _ := os.ReadDir(staging)
	t.Logf("after SIGKILL: %d staging dirs, mounts %q", len(left), mountsUnder(t, root))

	s := killedPullStore(t, root)
	_, err = s.Shutdown(true)
	require.NoError(t, err)
	left, _ = os.ReadDir(staging)
	assert.Empty(t, left, "no staging dir after the store restarts")
	assert.Empty(t, mountsUnder(t, root), "nothing mounted after the store restarts")
}

// TestKilledPullHelper is the process TestKilledPullLeavesNothingAfterRestart
// kills: a pull whose content fetch stalls forever.
func TestKilledPullHelper(t *testing.T) {
	root := os.Getenv(killedPullEnv)
	if root == "" {
		t.Skip("helper process of TestKilledPullLeavesNothingAfterRestart")
	}
	layer := zstdLayer(t)
	s := killedPullStore(t, root)
	src := testutil.NewSource(layer.Blob, testutil.FromCall(2, testutil.Stall(-1, true)))
	d, err := OpenWithStore(t.Context(), s, layer.Digest, layer.Size(), layer.Annotations, src)
	require.NoError(t, err)
	_, _ = s.PrepareStagedLayer(nil, d) // stalls until killed
	t.Fatal("the stalled pull returned")
}
