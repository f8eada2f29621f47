package pull

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/chunkdiff/chunkdiff/differ"
	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/internal/registry"
	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"
	storage "go.podman.io/storage"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/chunked/toc"
)

// Options configure a pull.
type Options struct {
	Registry registry.ResolveOptions
	// Progress, if set, is told about each layer.
	Progress Progress
	// TempDir is where ordinary downloads are spooled (default the
	// system's).
	TempDir string
}

// Progress follows a pull layer by layer; calls for different layers do
// not overlap (layers are pulled in order).
type Progress interface {
	// Start: layer i begins; fetched reports the bytes read so far.
	Start(i int, l registry.Layer, fetched func() int64)
	// Finish: layer i is in the store (or failed, r.Error set).
	Finish(i int, r LayerResult)
}

// Outcome is how a layer got into the store.
type Outcome string

const (
	// Partial: pulled by the differ, fetching only what the store lacked.
	Partial Outcome = "partial"
	// Full: the lifecycle or the registry said fall back; the blob was
	// downloaded whole (once) and applied with PutLayer.
	Full Outcome = "full"
	// Converted: convert_images downloaded the blob whole (once) and the
	// differ applied the local conversion.
	Converted Outcome = "converted"
	// Present: a layer with the same ID and DiffID was already there.
	Present Outcome = "present"
)

// LayerResult is what pulling one layer did.
type LayerResult struct {
	Index     int                `json:"index"`
	Digest    digest.Digest      `json:"digest"`
	Size      int64              `json:"size"`
	DiffID    digest.Digest      `json:"diff_id"`
	TOCDigest digest.Digest      `json:"toc_digest,omitempty"`
	ByTOC     bool               `json:"identified_by_toc,omitempty"`
	LayerID   string             `json:"layer_id"`
	Outcome   Outcome            `json:"outcome"`
	Reason    string             `json:"reason,omitempty"` // why it fell back
	Fetched   int64              `json:"bytes_fetched"`    // response body bytes (on the wire), this layer
	Skipped   int64              `json:"bytes_skipped"`    // blob bytes never requested
	Ranges    registry.BlobStats `json:"ranges"`
	Dump      *differ.Dump       `json:"-"`
	Error     string             `json:"error,omitempty"`
}

// Result is what a pull did.
type Result struct {
	Reference      string         `json:"reference"`
	Names          []string       `json:"names"`
	ImageID        string         `json:"image_id"`
	ManifestDigest digest.Digest  `json:"manifest_digest"`
	ConfigDigest   digest.Digest  `json:"config_digest"`
	Layers         []LayerResult  `json:"layers"`
	BlobBytes      int64          `json:"blob_bytes"`
	Fetched        int64          `json:"bytes_fetched"` // all response bodies, manifests excluded
	Registry       registry.Stats `json:"registry"`
}

// Pull pulls ref into store. On error, layers already committed stay (as
// with containers/image); no image record is created.
func Pull(ctx context.Context, store storage.Store, ref string, o Options) (*Result, error) {
	r, err := registry.ParseReference(ref, o.Registry.Insecure)
	if err != nil {
		return nil, err
	}
	names, err := storeNames(r.String())
	if err != nil {
		return nil, err
	}
	img, err := registry.Resolve(ctx, r, o.Registry)
	if err != nil {
		return nil, err
	}
	res := &Result{Reference: r.String(), Names: names, ManifestDigest: img.ManifestDigest, ConfigDigest: img.ConfigDigest}
	parent := ""
	for i, l := range img.Layers {
		lr, err := pullLayer(ctx, store, img, i, parent, o)
		res.Layers = append(res.Layers, lr)
		res.BlobBytes += l.Size
		res.Fetched += lr.Fetched
		if o.Progress != nil {
			o.Progress.Finish(i, lr)
		}
		if err != nil {
			res.Registry = img.Client.Stats()
			return res, fmt.Errorf("layer %d (%s): %w", i, l.Digest, err)
		}
		parent = lr.LayerID
	}
	res.Registry = img.Client.Stats()
	id := imageID(img.ConfigDigest, res.Layers)
	if err := commit(store, commitInput{
		ID: id, TopLayer: parent, Names: names,
		TopManifest: img.TopManifest, TopDigest: img.TopManifestDigest,
		Manifest: img.Manifest, ManifestDigest: img.ManifestDigest,
		Config: img.Config, ConfigDigest: img.ConfigDigest,
	}); err != nil {
		return res, err
	}
	res.ImageID = id
	return res, nil
}

// storeNames is the name containers/image records: the normalized
// reference, ":latest" added when it has neither tag nor digest.
func storeNames(ref string) ([]string, error) {
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	return []string{reference.TagNameOnly(n).String()}, nil
}

// pullLayer puts layer i on top of parent.
func pullLayer(ctx context.Context, store storage.Store, img *registry.Image, i int, parent string, o Options) (lr LayerResult, _ error) {
	l := img.Layers[i]
	lr = LayerResult{Index: i, Digest: l.Digest, Size: l.Size, DiffID: img.DiffIDs[i]}
	if d, err := toc.GetTOCDigest(l.Annotations); err == nil && d != nil {
		lr.TOCDigest = *d
	}
	if err := lr.DiffID.Validate(); err != nil {
		return lr, fmt.Errorf("config DiffID %q: %w", lr.DiffID, err)
	}
	lr.LayerID = layerID(parent, lr.DiffID, "", false)
	if have, err := store.Layer(lr.LayerID); err == nil && have.UncompressedDigest == lr.DiffID {
		lr.Outcome = Present
		return lr, nil
	}

	blob := img.Client.Blob(ctx, l.Digest, l.Size)
	defer func() { _ = blob.Close() }()
	if o.Progress != nil {
		o.Progress.Start(i, l, blob.Fetched)
	}
	defer func() {
		st := blob.Stats()
		lr.Ranges = st
		lr.Fetched = st.BytesFetched
		switch {
		case lr.Outcome == Present:
		case lr.Dump != nil && lr.Dump.Apply != nil:
			// The blob bytes the differ never requested. Not the size
			// less the wire bytes: those include multipart framing and
			// what a resumed response sent again.
			lr.Skipped = lr.Dump.Apply.Skipped
		default:
			lr.Skipped = max(0, l.Size-st.BytesFetched)
		}
	}()

	err := partial(ctx, store, blob, &lr, l, parent)
	if err == nil {
		return lr, nil
	}
	var fb *fallback
	if !errors.As(err, &fb) {
		lr.Error = err.Error()
		return lr, err
	}
	lr.Reason = fb.reason
	if err := ordinary(ctx, store, blob, &lr, parent, o.TempDir); err != nil {
		lr.Error = err.Error()
		return lr, err
	}
	return lr, nil
}

// fallback: the layer must be downloaded whole, for reason.
type fallback struct{ reason string }

func (f *fallback) Error() string { return "falling back to an ordinary download: " + f.reason }

// partial pulls the layer with the differ; a *fallback error asks for an
// ordinary download.
func partial(ctx context.Context, store storage.Store, blob *registry.Blob, lr *LayerResult, l registry.Layer, parent string) error {
	d, err := differ.OpenWithStore(ctx, store, l.Digest, l.Size, l.Annotations, blob)
	defer func() {
		_ = d.Close()
	}()
	var out *graphdriver.DriverWithDifferOutput
	if err == nil {
		out, err = store.PrepareStagedLayer(nil, d)
	}
	dump := d.Dump()
	lr.Dump = &dump
	if err != nil {
		if out != nil {
			_ = store.CleanupStagedLayer(out)
		}
		var fe *differ.FallbackError
		switch {
		case errors.As(err, &fe):
			return &fallback{reason: fe.Reason.String()}
		case differ.IsFallback(err):
			return &fallback{reason: err.Error()}
		}
		if r, refused := blob.Refused(); refused {
			// The differ failed because the registry stopped serving
			// ranges mid-layer: the whole blob is still one download away.
			return &fallback{reason: "registry: " + r.String()}
		}
		return err
	}
	lr.Outcome = Partial
	for _, tr := range dump.History {
		if tr.Event == states.Convert {
			lr.Outcome = Converted
			lr.Reason = tr.Reason.Detail
		}
	}
	flags := map[string]any{}
	switch {
	case out.UncompressedDigest != "":
		if out.UncompressedDigest != lr.DiffID {
			_ = store.CleanupStagedLayer(out)
			return fmt.Errorf("uncompressed digest of the layer is %s, the config says %s", out.UncompressedDigest, lr.DiffID)
		}
	case out.TOCDigest != "":
		// Pulled without a DiffID (insecure_allow_unpredictable_image_contents):
		// identified by its TOC, as containers/image does.
		lr.ByTOC = true
		lr.LayerID = layerID(parent, lr.DiffID, out.TOCDigest, true)
		flags[expectedLayerDiffIDFlag] = lr.DiffID.String()
	default:
		_ = store.CleanupStagedLayer(out)
		return errors.New("internal error: the staged layer has neither a DiffID nor a TOC digest")
	}
	_, err = store.ApplyStagedLayer(storage.ApplyStagedLayerOptions{
		ID: lr.LayerID, ParentLayer: parent, DiffOutput: out,
		DiffOptions: &graphdriver.ApplyDiffWithDifferOpts{Flags: flags},
	})
	if err != nil {
		_ = store.CleanupStagedLayer(out)
		if !errors.Is(err, storage.ErrDuplicateID) {
			return fmt.Errorf("applying the staged layer: %w", err)
		}
	}
	return nil
}

// ordinary downloads the blob whole, verified, and applies it with
// PutLayer, checking the DiffID the store computes against the config.
func ordinary(ctx context.Context, store storage.Store, blob *registry.Blob, lr *LayerResult, parent, tempDir string) error {
	lr.Outcome = Full
	lr.ByTOC = false
	lr.LayerID = layerID(parent, lr.DiffID, "", false)
	f, err := os.CreateTemp(tempDir, "chunkdiff-blob-")
	if err != nil {
		return err
	}
	defer func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}()
	if err := blob.Download(ctx, f); err != nil {
		return err
	}
	if _, err := f.Seek(0, 0); err != nil {
		return err
	}
	size := lr.Size
	layer, _, err := store.PutLayer(lr.LayerID, parent, nil, "", false, &storage.LayerOptions{
		OriginalDigest: lr.Digest, OriginalSize: &size,
	}, f)
	created := err == nil
	if errors.Is(err, storage.ErrDuplicateID) {
		layer, err = store.Layer(lr.LayerID)
	}
	if err != nil {
		return fmt.Errorf("storing the layer: %w", err)
	}
	if layer.UncompressedDigest != lr.DiffID {
		if created {
			_ = store.DeleteLayer(layer.ID)
		}
		return fmt.Errorf("uncompressed digest of the layer is %s, the config says %s", layer.UncompressedDigest, lr.DiffID)
	}
	return nil
}
