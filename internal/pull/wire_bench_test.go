package pull

import (
	"context"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testregistry"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	storage "go.podman.io/storage"
)

// BenchmarkWireBytesPerQuirk measures the bytes a patch update puts on the
// wire (blob bodies, config excluded) behind each registry quirk, for
// chunkdiff pull and for containers/image's copy.Image (what podman does)
// into a store that holds the previous release. Metrics: wire_B, x_blob
// (wire / update blob), ok (1: the image was pulled, 0: the pull failed).
//
//	go test -tags exclude_graphdriver_btrfs -run '^$' -bench WireBytesPerQuirk -benchtime 1x ./internal/pull/
func BenchmarkWireBytesPerQuirk(b *testing.B) {
	r := releases(b)
	srv := testregistry.Start(b)
	base := srv.Push(b, "bench/app:1", r.base)
	update := srv.Push(b, "bench/app:2", r.update)
	clients := map[string]func(store storage.Store, ref string) error{
		"chunkdiff": func(store storage.Store, ref string) error {
			_, err := Pull(context.Background(), store, ref, options())
			return err
		},
		"containers-image": func(store storage.Store, ref string) error {
			return containersImageCopy(store, ref)
		},
	}
	for _, client := range []string{"chunkdiff", "containers-image"} {
		pull := clients[client]
		for _, tc := range quirkCases {
			b.Run(client+"/"+tc.name, func(b *testing.B) {
				for b.Loop() {
					srv.Faults.Set(testregistry.None)
					store := testutil.NewOverlayStore(b, map[string]string{"enable_partial_images": "true"})
					if err := pull(store, base.Ref); err != nil {
						b.Fatalf("base: %v", err)
					}
					srv.Faults.Set(tc.quirk)
					if tc.setup != nil {
						tc.setup(srv.Faults)
					}
					err := pull(store, update.Ref)
					wire := srv.Faults.BlobBytes.Load() - int64(len(update.Config))
					ok := 1.0
					if err != nil {
						ok = 0
						b.Logf("%s %s: %v", client, tc.name, err)
					}
					b.ReportMetric(float64(wire), "wire_B")
					b.ReportMetric(float64(wire)/float64(r.update.Size()), "x_blob")
					b.ReportMetric(ok, "ok")
					srv.Faults.Set(testregistry.None)
				}
			})
		}
	}
}

// containersImageCopy copies ref into store with copy.Image; its blob info
// cache goes into the store's run root, not the host's.
func containersImageCopy(store storage.Store, ref string) error {
	src, err := docker.ParseReference("//" + ref)
	if err != nil {
		return err
	}
	dst, err := istorage.Transport.ParseStoreReference(store, ref)
	if err != nil {
		return err
	}
	policy, err := signature.NewPolicyContext(&signature.Policy{Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()}})
	if err != nil {
		return err
	}
	defer func() { _ = policy.Destroy() }()
	_, err = copy.Image(context.Background(), policy, dst, src, &copy.Options{
		SourceCtx: &types.SystemContext{
			DockerInsecureSkipTLSVerify: types.OptionalBoolTrue,
			DockerAuthConfig:            &types.DockerAuthConfig{Username: testregistry.User, Password: testregistry.Password},
		},
		DestinationCtx: &types.SystemContext{BlobInfoCacheDir: store.RunRoot()},
	})
	return err
}
