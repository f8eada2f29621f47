package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	storage "go.podman.io/storage"
	"go.podman.io/storage/types"
)

// blobList is the repeatable --put flag.
type blobList []string

func (b *blobList) String() string { return strings.Join(*b, ",") }

func (b *blobList) Set(s string) error {
	*b = append(*b, s)
	return nil
}

// putResult is what --put prints: the layers it created, in order.
type putResult struct {
	Layers  []string `json:"layers"`
	Seconds float64  `json:"seconds"`
}

// put fills a store the way an ordinary pull does (c/image without a
// differ): store.PutLayer of each compressed blob, as a layer of its own
// (no parent), with the blob's digest and size as c/image records them.
// Nothing is timed for the report; the harness uses this to prepare
// stores of ordinary layers.
func put(root, driver string, blobs []string) (putResult, error) {
	var res putResult
	store, err := storage.GetStore(types.StoreOptions{
		RunRoot:         filepath.Join(root, "run"),
		GraphRoot:       filepath.Join(root, "graph"),
		GraphDriverName: driver,
	})
	if err != nil {
		return res, fmt.Errorf("open store: %w", err)
	}
	t0 := time.Now()
	for _, blob := range blobs {
		id, err := putOne(store, blob)
		if err != nil {
			_, _ = store.Shutdown(true)
			return res, err
		}
		res.Layers = append(res.Layers, id)
	}
	res.Seconds = time.Since(t0).Seconds()
	if _, err := store.Shutdown(true); err != nil {
		return res, fmt.Errorf("store shutdown: %w", err)
	}
	return res, nil
}

func putOne(store storage.Store, blob string) (string, error) {
	f, err := os.Open(blob)
	if err != nil {
		return "", fmt.Errorf("put: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return "", fmt.Errorf("put: hash %s: %w", blob, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("put: %w", err)
	}
	opts := &storage.LayerOptions{
		OriginalDigest: digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)),
		OriginalSize:   &size,
	}
	l, _, err := store.PutLayer("", "", nil, "", false, opts, f)
	if err != nil {
		return "", fmt.Errorf("PutLayer %s: %w", blob, err)
	}
	return l.ID, nil
}

func printJSON(v any) error {
	return json.NewEncoder(os.Stdout).Encode(v)
}
