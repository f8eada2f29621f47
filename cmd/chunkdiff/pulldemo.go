package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/miniregistry"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
)

func newPullDemoCommand() *cobra.Command {
	var (
		dir  string
		keep bool
	)
	cmd := &cobra.Command{
		Use:   "pull-demo",
		Short: "Serve the demo image pair from a local registry and pull both into a temporary store",
		Long: `pull-demo starts a registry on loopback serving two one-layer images made of
testdata/demo (demo/app:base, then demo/app:update, a patch release of it),
and pulls both with chunkdiff pull into a fresh temporary overlay store: the
update fetches only what the base does not already provide.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg := miniregistry.New()
			created := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
			for _, name := range []string{"base", "update"} {
				l, err := loadDemoLayer(dir, name)
				if err != nil {
					return err
				}
				if _, err := reg.AddImage("demo/app", name, runtime.GOARCH, created, []miniregistry.Layer{l}); err != nil {
					return err
				}
			}
			host, stop, err := reg.Serve()
			if err != nil {
				return fmt.Errorf("starting the demo registry: %w", err)
			}
			defer func() { _ = stop() }()

			root, err := os.MkdirTemp("", "chunkdiff-pull-demo-")
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if keep {
				if _, err := fmt.Fprintf(out, "store: %s\n", root); err != nil {
					return err
				}
			} else {
				defer func() { _ = os.RemoveAll(root) }()
			}
			store, err := openStore(root, map[string]string{"enable_partial_images": "true"})
			if err != nil {
				return err
			}
			defer func() { _, _ = store.Shutdown(false) }()
			for _, tag := range []string{"base", "update"} {
				before := reg.BlobBytes.Load()
				ref := host + "/demo/app:" + tag
				if _, err := fmt.Fprintf(out, "\n$ chunkdiff pull --tls-verify=false %s\n", ref); err != nil {
					return err
				}
				if err := runPull(cmd.Context(), out, cmd.ErrOrStderr(), store, ref, pullFlags{tlsVerify: false}); err != nil {
					return err
				}
				if _, err := fmt.Fprintf(out, "  registry sent %d B of blobs\n", reg.BlobBytes.Load()-before); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "testdata/demo", "directory with base/update .tar.zst and .annotations.json")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary store and print its path")
	return cmd
}

// loadDemoLayer reads NAME.tar.zst and its annotations; the DiffID is
// computed by decompressing the blob.
func loadDemoLayer(dir, name string) (miniregistry.Layer, error) {
	blob, err := os.ReadFile(filepath.Join(dir, name+".tar.zst"))
	if err != nil {
		return miniregistry.Layer{}, fmt.Errorf("demo layer: %w", err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, name+".annotations.json"))
	if err != nil {
		return miniregistry.Layer{}, fmt.Errorf("demo layer: %w", err)
	}
	var ann map[string]string
	if err := json.Unmarshal(raw, &ann); err != nil {
		return miniregistry.Layer{}, fmt.Errorf("demo layer %s annotations: %w", name, err)
	}
	dec, err := zstd.NewReader(bytes.NewReader(blob))
	if err != nil {
		return miniregistry.Layer{}, err
	}
	defer dec.Close()
	h := digest.Canonical.Digester()
	if _, err := io.Copy(h.Hash(), dec); err != nil {
		return miniregistry.Layer{}, fmt.Errorf("demo layer %s: %w", name, err)
	}
	return miniregistry.Layer{
		Blob: blob, MediaType: "application/vnd.oci.image.layer.v1.tar+zstd", Annotations: ann, DiffID: h.Digest(),
	}, nil
}
