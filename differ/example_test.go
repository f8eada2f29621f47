package differ_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/chunkdiff/chunkdiff/differ"
	dcontext "github.com/chunkdiff/chunkdiff/differ/context"
	"github.com/chunkdiff/chunkdiff/layerfile"
	storage "go.podman.io/storage"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/chunked"
)

// Open a local zstd:chunked blob and look at what loading its metadata
// found, without applying it.
func ExampleOpen() {
	ctx := context.Background()
	blob, err := layerfile.Open(ctx, "../testdata/demo/base.tar.zst")
	if err != nil {
		log.Fatal(err)
	}
	defer blob.Close()
	ann, err := layerfile.ReadAnnotations("../testdata/demo/base.annotations.json")
	if err != nil {
		log.Fatal(err)
	}
	dg, err := blob.Digest()
	if err != nil {
		log.Fatal(err)
	}

	d, err := differ.Open(ctx, dcontext.PullOptions{EnablePartialImages: true}, dg, blob.Size(), ann, blob)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	dump := d.Dump()
	fmt.Println(dump.State, dump.Context.Format)
	fmt.Println(dump.Metadata.Entries, "entries,", dump.Metadata.RegularFiles, "regular files")
	// Output:
	// metadata-loaded zstd:chunked
	// 237 entries, 205 regular files
}

// Apply a layer into an empty directory: only file contents are fetched
// after the metadata, and the DiffID is verified.
func ExampleDiffer_ApplyDiff() {
	ctx := context.Background()
	blob, err := layerfile.Open(ctx, "../testdata/demo/base.tar.zst")
	if err != nil {
		log.Fatal(err)
	}
	defer blob.Close()
	ann, err := layerfile.ReadAnnotations("../testdata/demo/base.annotations.json")
	if err != nil {
		log.Fatal(err)
	}
	dg, err := blob.Digest()
	if err != nil {
		log.Fatal(err)
	}
	d, err := differ.Open(ctx, dcontext.PullOptions{EnablePartialImages: true}, dg, blob.Size(), ann, blob)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	dest, err := os.MkdirTemp("", "example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dest)
	// dest must be empty: a failed ApplyDiff removes what it created there.
	out, err := d.ApplyDiff(dest, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	if out.TarSplit != nil {
		defer out.TarSplit.Close()
	}
	fmt.Println(d.State())
	fmt.Println(out.UncompressedDigest)
	fmt.Println(blob.Stats().Requests, "range requests")
	// Output:
	// applied
	// sha256:291fa490190032e016fac048841aef2f3321964ea39e3a6912ff7540771c2b34
	// 2 range requests
}

// A layer that cannot be pulled partially returns an error matching
// upstream's chunked.ErrFallbackToOrdinaryLayerDownload; *FallbackError
// says why, and whether convert_images would help.
func ExampleFallbackError() {
	ctx := context.Background()
	blob, err := layerfile.Open(ctx, "../testdata/demo/base.tar.zst")
	if err != nil {
		log.Fatal(err)
	}
	defer blob.Close()
	dg, err := blob.Digest()
	if err != nil {
		log.Fatal(err)
	}
	// No annotations: nothing says where a TOC would be.
	d, err := differ.Open(ctx, dcontext.PullOptions{EnablePartialImages: true}, dg, blob.Size(), nil, blob)
	// Open returns the differ even on error, so that its Dump says why.
	defer func() { _ = d.Close() }()

	var fallback chunked.ErrFallbackToOrdinaryLayerDownload
	fmt.Println(errors.As(err, &fallback))
	var why *differ.FallbackError
	if errors.As(err, &why) {
		fmt.Println(why.Reason.Code, why.CanConvert())
	}
	// Output:
	// true
	// no-toc true
}

// With a containers/storage store, NewDiffer is a drop-in for upstream's
// chunked.NewDiffer: the store's overlay driver stages the layer, and the
// store commits it. (Needs root and overlayfs, so it is not run here.)
func ExampleNewDiffer() {
	ctx := context.Background()
	store, err := storage.GetStore(storage.StoreOptions{
		GraphRoot: "/var/tmp/example/graph", RunRoot: "/var/tmp/example/run", GraphDriverName: "overlay",
		PullOptions: map[string]string{"enable_partial_images": "true"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Shutdown(false)
	blob, err := layerfile.Open(ctx, "layer.tar.zst")
	if err != nil {
		log.Fatal(err)
	}
	defer blob.Close()
	ann, err := layerfile.ReadAnnotations("layer.annotations.json")
	if err != nil {
		log.Fatal(err)
	}
	dg, err := blob.Digest()
	if err != nil {
		log.Fatal(err)
	}

	d, err := differ.NewDiffer(ctx, store, dg, blob.Size(), ann, blob)
	if errors.As(err, &chunked.ErrFallbackToOrdinaryLayerDownload{}) {
		log.Fatal("pull it whole instead: ", err)
	} else if err != nil {
		log.Fatal(err)
	}
	out, err := store.PrepareStagedLayer(nil, d)
	if err != nil {
		if out != nil {
			_ = store.CleanupStagedLayer(out)
		}
		log.Fatal(err)
	}
	layer, err := store.ApplyStagedLayer(storage.ApplyStagedLayerOptions{
		DiffOutput: out, DiffOptions: &graphdriver.ApplyDiffWithDifferOpts{},
	})
	if err != nil {
		_ = store.CleanupStagedLayer(out)
		log.Fatal(err)
	}
	fmt.Println(layer.ID)
}
