package testutil

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/storage/pkg/chunked/toc"
)

// DemoLayer loads testdata/demo/<name>.tar.zst ("base" or "update") with
// its annotations; DiffID is computed by decompressing the blob.
func DemoLayer(tb testing.TB, name string) Layer {
	tb.Helper()
	_, self, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(self), "..", "..", "testdata", "demo")
	blob, err := os.ReadFile(filepath.Join(dir, name+".tar.zst"))
	if err != nil {
		tb.Fatalf("demo layer: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, name+".annotations.json"))
	if err != nil {
		tb.Fatalf("demo layer: %v", err)
	}
	var ann map[string]string
	if err := json.Unmarshal(raw, &ann); err != nil {
		tb.Fatalf("demo layer annotations: %v", err)
	}
	d, err := toc.GetTOCDigest(ann)
	if err != nil || d == nil {
		tb.Fatalf("demo layer TOC digest: %v", err)
	}
	dec, err := zstd.NewReader(bytes.NewReader(blob))
	if err != nil {
		tb.Fatalf("demo layer: %v", err)
	}
	defer dec.Close()
	h := digest.Canonical.Digester()
	if _, err := io.Copy(h.Hash(), dec); err != nil {
		tb.Fatalf("demo layer decompress: %v", err)
	}
	return Layer{Blob: blob, Annotations: ann, Digest: digest.FromBytes(blob), DiffID: h.Digest(), TOCDigest: *d}
}
