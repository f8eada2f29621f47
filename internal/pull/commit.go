package pull

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	storage "go.podman.io/storage"
)

// The containers/image storage transport's conventions (storage_dest.go,
// storage_image.go and storage_src.go of go.podman.io/image/v5 v5.42.1).
const (
	// expectedLayerDiffIDFlag is set on a layer identified by its TOC
	// only, naming the DiffID the config promised.
	expectedLayerDiffIDFlag = "expected-layer-diffid"
	// imageMetadata is the JSON of an empty storageImageMetadata (no
	// signatures).
	imageMetadata = "{}"
)

// manifestBigDataKey is the key containers/image stores a manifest under.
func manifestBigDataKey(d digest.Digest) string {
	return storage.ImageDigestManifestBigDataNamePrefix + "-" + d.String()
}

// layerID is containers/image's layer ID: the DiffID for a base layer,
// else a digest of parent and DiffID; a layer identified by its TOC only
// gets a digest of parent and "@TOC=" plus the TOC digest.
func layerID(parent string, diffID, tocDigest digest.Digest, byTOC bool) string {
	component := diffID.Encoded()
	if byTOC {
		component = "@TOC=" + tocDigest.Encoded()
	}
	if parent == "" && !byTOC {
		return component
	}
	return digest.Canonical.FromString(parent + "+" + component).Encoded()
}

// imageID is containers/image's image ID: the config digest, unless a layer
// was identified by its TOC, which must then enter the ID.
func imageID(configDigest digest.Digest, layers []LayerResult) string {
	ordinary := configDigest.Encoded()
	var b strings.Builder
	b.WriteString("@With TOC:")
	b.WriteString(ordinary)
	b.WriteByte('|')
	byTOC := false
	for _, l := range layers {
		if l.ByTOC {
			byTOC = true
			b.WriteString(l.TOCDigest.String())
		}
		b.WriteByte('|')
	}
	if !byTOC {
		return ordinary
	}
	return digest.FromString(b.String()).Encoded()
}

// commitInput is what an image record is made of.
type commitInput struct {
	ID             string
	TopLayer       string
	Names          []string
	TopManifest    []byte
	TopDigest      digest.Digest
	Manifest       []byte
	ManifestDigest digest.Digest
	Config         []byte
	ConfigDigest   digest.Digest
}

// commit creates (or updates) the image record as containers/image does.
func commit(store storage.Store, in commitInput) error {
	opts := &storage.ImageOptions{Metadata: imageMetadata}
	var cfg struct {
		Created *time.Time `json:"created"`
	}
	if json.Unmarshal(in.Config, &cfg) == nil && cfg.Created != nil {
		opts.CreationDate = *cfg.Created
	}
	opts.BigData = append(opts.BigData, storage.ImageBigDataOption{
		Key: in.ConfigDigest.String(), Data: in.Config, Digest: digest.Canonical.FromBytes(in.Config),
	})
	if in.TopDigest != in.ManifestDigest {
		opts.BigData = append(opts.BigData, storage.ImageBigDataOption{
			Key: manifestBigDataKey(in.TopDigest), Data: in.TopManifest, Digest: in.TopDigest,
		})
	}
	opts.BigData = append(opts.BigData,
		storage.ImageBigDataOption{Key: manifestBigDataKey(in.ManifestDigest), Data: in.Manifest, Digest: in.ManifestDigest},
		storage.ImageBigDataOption{Key: storage.ImageDigestBigDataKey, Data: in.Manifest, Digest: in.ManifestDigest},
	)
	img, err := store.CreateImage(in.ID, nil, in.TopLayer, "", opts)
	if err != nil {
		if !errors.Is(err, storage.ErrDuplicateID) {
			return fmt.Errorf("creating image %s: %w", in.ID, err)
		}
		if img, err = store.Image(in.ID); err != nil {
			return fmt.Errorf("reading image %s: %w", in.ID, err)
		}
		if img.TopLayer != in.TopLayer {
			return fmt.Errorf("image %s already exists with another top layer: %w", in.ID, storage.ErrDuplicateID)
		}
		for _, bd := range opts.BigData {
			if err := store.SetImageBigData(img.ID, bd.Key, bd.Data, func([]byte) (digest.Digest, error) { return bd.Digest, nil }); err != nil {
				return fmt.Errorf("saving %q of image %s: %w", bd.Key, img.ID, err)
			}
		}
		if err := store.SetMetadata(img.ID, opts.Metadata); err != nil {
			return fmt.Errorf("saving the metadata of image %s: %w", img.ID, err)
		}
	}
	if len(in.Names) > 0 {
		if err := store.AddNames(img.ID, in.Names); err != nil {
			return fmt.Errorf("naming image %s %v: %w", img.ID, in.Names, err)
		}
	}
	return nil
}
