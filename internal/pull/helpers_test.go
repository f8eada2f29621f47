package pull

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/registry"
	"github.com/chunkdiff/chunkdiff/internal/testregistry"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/google/go-containerregistry/pkg/authn"
	storage "go.podman.io/storage"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// creds answers every registry with the test registry's credentials.
type creds struct{}

func (creds) Resolve(authn.Resource) (authn.Authenticator, error) {
	return &authn.Basic{Username: testregistry.User, Password: testregistry.Password}, nil
}

func options() Options {
	return Options{Registry: registry.ResolveOptions{
		Keychain: creds{},
		// 2 s, not less: on a loaded CI machine under -race a shorter idle
		// timeout made the client resume responses that were only slow,
		// and closing one mid-body trips a data race inside the test
		// registry (net/http's multipart ServeContent goroutine still
		// reading distribution's blob reader after its handler closed it).
		Range: registry.Options{Backoff: time.Millisecond, IdleTimeout: 2 * time.Second},
	}}
}

// release is the test image pair: a previous release and a patch update.
type release struct {
	base, update testutil.Layer
	baseTar      []byte
	updateTar    []byte
}

var (
	releaseOnce sync.Once
	rel         release
)

func releases(t testing.TB) release {
	t.Helper()
	releaseOnce.Do(func() {
		base := testutil.RealisticEntries(testutil.RealisticOptions{Seed: 13, Files: 300, TotalBytes: 12 << 20})
		update := testutil.Update(base, testutil.UpdateOptions{Seed: 14})
		rel.baseTar = testutil.TarBytes(t, base)
		rel.updateTar = testutil.TarBytes(t, update)
		rel.base = testutil.ZstdChunked(t, rel.baseTar)
		rel.update = testutil.ZstdChunked(t, rel.updateTar)
	})
	return rel
}

func overlayStore(t *testing.T) storage.Store {
	t.Helper()
	return testutil.NewOverlayStore(t, map[string]string{"enable_partial_images": "true"})
}

// layerTree snapshots a layer's own files (its overlay diff directory).
func layerTree(t *testing.T, store storage.Store, id string) map[string]testutil.FileInfo {
	t.Helper()
	return testutil.Snapshot(t, filepath.Join(store.GraphRoot(), "overlay", id, "diff"))
}

// requireNoLeak waits until no goroutine of the pull or registry packages
// is left.
func requireNoLeak(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<22)
		stacks := string(buf[:runtime.Stack(buf, true)])
		var leaked []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if (strings.Contains(g, "internal/registry.(*") || strings.Contains(g, "internal/pull.")) && !strings.Contains(g, "_test.go") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines leaked:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustPull(t *testing.T, store storage.Store, ref string) *Result {
	t.Helper()
	res, err := Pull(context.Background(), store, ref, options())
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	return res
}
