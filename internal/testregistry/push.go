package testregistry

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
)

// MediaType of zstd (and zstd:chunked) OCI layers.
const (
	LayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
	LayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// Image is what was pushed.
type Image struct {
	Ref            string // HOST/repo:tag
	Manifest       []byte
	ManifestDigest digest.Digest
	Config         []byte
	ConfigDigest   digest.Digest
	Layers         []testutil.Layer
}

type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

func (s *Server) opts() []remote.Option {
	return []remote.Option{remote.WithAuth(&authn.Basic{Username: User, Password: Password})}
}

// Push pushes an OCI image of layers (zstd media type unless the layer has
// no TOC and is gzip) as HOST/repo:tag.
func (s *Server) Push(tb testing.TB, repoTag string, layers ...testutil.Layer) Image {
	tb.Helper()
	return s.PushPlatform(tb, repoTag, "linux", "amd64", layers...)
}

// PushPlatform is Push with the config's os and architecture.
func (s *Server) PushPlatform(tb testing.TB, repoTag, os, arch string, layers ...testutil.Layer) Image {
	tb.Helper()
	ref, err := name.ParseReference(s.Host+"/"+repoTag, name.Insecure)
	if err != nil {
		tb.Fatal(err)
	}
	var diffIDs []digest.Digest
	type desc struct {
		MediaType   string            `json:"mediaType"`
		Digest      digest.Digest     `json:"digest"`
		Size        int64             `json:"size"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	var descs []desc
	for _, l := range layers {
		mt := LayerZstd
		if len(l.Blob) > 1 && l.Blob[0] == 0x1f && l.Blob[1] == 0x8b {
			mt = LayerGzip
		}
		if err := remote.WriteLayer(ref.Context(), static.NewLayer(l.Blob, types.MediaType(mt)), s.opts()...); err != nil {
			tb.Fatalf("pushing layer %s: %v", l.Digest, err)
		}
		diffIDs = append(diffIDs, l.DiffID)
		descs = append(descs, desc{MediaType: mt, Digest: l.Digest, Size: l.Size(), Annotations: l.Annotations})
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	history := make([]map[string]any, len(layers))
	for i := range history {
		history[i] = map[string]any{"created": created, "created_by": "chunkdiff test layer"}
	}
	config, err := json.Marshal(map[string]any{
		"created": created, "architecture": arch, "os": os,
		"config":  map[string]any{"Env": []string{"PATH=/usr/bin"}},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history": history,
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.WriteLayer(ref.Context(), static.NewLayer(config, types.OCIConfigJSON), s.opts()...); err != nil {
		tb.Fatalf("pushing config: %v", err)
	}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     string(types.OCIManifestSchema1),
		"config":        desc{MediaType: string(types.OCIConfigJSON), Digest: digest.FromBytes(config), Size: int64(len(config))},
		"layers":        descs,
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Put(ref, rawManifest{manifest, types.OCIManifestSchema1}, s.opts()...); err != nil {
		tb.Fatalf("pushing manifest: %v", err)
	}
	return Image{
		Ref: ref.String(), Manifest: manifest, ManifestDigest: digest.FromBytes(manifest),
		Config: config, ConfigDigest: digest.FromBytes(config), Layers: layers,
	}
}

// PushIndex pushes an OCI index of images (each pushed before, by digest)
// with their platforms, as HOST/repo:tag, and returns the index digest.
func (s *Server) PushIndex(tb testing.TB, repoTag string, imgs map[string]Image) (digest.Digest, []byte) {
	tb.Helper()
	ref, err := name.ParseReference(s.Host+"/"+repoTag, name.Insecure)
	if err != nil {
		tb.Fatal(err)
	}
	var ms []v1.Descriptor
	for platform, img := range imgs {
		p, err := v1.ParsePlatform(platform)
		if err != nil {
			tb.Fatal(err)
		}
		h, _ := v1.NewHash(img.ManifestDigest.String())
		ms = append(ms, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: h, Size: int64(len(img.Manifest)), Platform: p})
	}
	raw, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: ms})
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Put(ref, rawManifest{raw, types.OCIImageIndex}, s.opts()...); err != nil {
		tb.Fatalf("pushing index: %v", err)
	}
	return digest.FromBytes(raw), raw
}

func writeFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
}
