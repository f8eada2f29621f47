package registry

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
)

// ResolveOptions say how to reach an image.
type ResolveOptions struct {
	// Insecure allows plain HTTP and skips TLS verification
	// (--tls-verify=false).
	Insecure bool
	// Platform is OS/ARCH[/VARIANT] to pick from an index; "" is the
	// host's.
	Platform string
	// Keychain finds credentials; default authn.DefaultKeychain (docker
	// and podman auth files).
	Keychain authn.Keychain
	// Base is the transport under authentication; default a clone of
	// http.DefaultTransport.
	Base http.RoundTripper
	// Range tunes the range client (its Transport is set here).
	Range Options
}

// Image is a resolved image: the manifests, the config, and a client for
// its blobs.
type Image struct {
	Ref    name.Reference
	Client *Client
	// TopManifest is the manifest REF names (an index, or Manifest itself).
	TopManifest       []byte
	TopManifestDigest digest.Digest
	Manifest          []byte
	ManifestDigest    digest.Digest
	ManifestMediaType string
	Config            []byte
	ConfigDigest      digest.Digest
	Layers            []Layer
	DiffIDs           []digest.Digest // from the config, untrusted until verified
}

// Layer is one layer descriptor of the manifest.
type Layer struct {
	Digest      digest.Digest     `json:"digest"`
	Size        int64             `json:"size"`
	MediaType   string            `json:"mediaType"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ParseReference accepts REF, //REF and docker://REF, as skopeo does.
func ParseReference(ref string, insecure bool) (name.Reference, error) {
	s := strings.TrimPrefix(strings.TrimPrefix(ref, "docker:"), "//")
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(s, opts...)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	return r, nil
}

// Resolve authenticates to the registry and fetches the manifest (picking
// the platform from an index) and the config.
func Resolve(ctx context.Context, ref name.Reference, o ResolveOptions) (*Image, error) {
	want, err := parsePlatform(o.Platform)
	if err != nil {
		return nil, err
	}
	base := o.Base
	if base == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if o.Insecure {
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // --tls-verify=false asks for exactly this
		}
		base = tr
	}
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	repo := ref.Context()
	auth, err := authn.Resolve(ctx, kc, repo)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", repo, err)
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, base, []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", repo.RegistryStr(), err)
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(rt)}
	top, err := remote.Get(ref, ropts...)
	if err != nil {
		return nil, fmt.Errorf("fetching the manifest of %s: %w", ref, err)
	}
	img := &Image{Ref: ref, TopManifest: top.Manifest, TopManifestDigest: digest.Digest(top.Digest.String())}
	desc := top
	if top.MediaType.IsIndex() {
		idx, err := v1.ParseIndexManifest(strings.NewReader(string(top.Manifest)))
		if err != nil {
			return nil, fmt.Errorf("parsing the index of %s: %w", ref, err)
		}
		var pick *v1.Descriptor
		for i := range idx.Manifests {
			m := &idx.Manifests[i]
			if m.MediaType.IsImage() && m.Platform != nil && m.Platform.Satisfies(want) {
				pick = m
				break
			}
		}
		if pick == nil {
			return nil, fmt.Errorf("%s: no image for platform %s in the index", ref, want)
		}
		if desc, err = remote.Get(repo.Digest(pick.Digest.String()), ropts...); err != nil {
			return nil, fmt.Errorf("fetching the %s manifest of %s: %w", want, ref, err)
		}
	} else if !top.MediaType.IsImage() {
		return nil, fmt.Errorf("%s: unsupported manifest type %q", ref, top.MediaType)
	}
	img.Manifest = desc.Manifest
	img.ManifestDigest = digest.Digest(desc.Digest.String())
	img.ManifestMediaType = string(desc.MediaType)

	var m struct {
		Config Layer   `json:"config"`
		Layers []Layer `json:"layers"`
	}
	if err := json.Unmarshal(img.Manifest, &m); err != nil {
		return nil, fmt.Errorf("parsing the manifest of %s: %w", ref, err)
	}
	for _, l := range append([]Layer{m.Config}, m.Layers...) {
		if err := l.Digest.Validate(); err != nil || l.Size < 0 {
			return nil, fmt.Errorf("manifest of %s: bad descriptor %q (size %d)", ref, l.Digest, l.Size)
		}
	}
	img.Layers = m.Layers
	img.ConfigDigest = m.Config.Digest

	ro := o.Range
	ro.Transport = rt
	// rt rewrites the scheme to what its ping found (HTTPS first, plain
	// HTTP only for insecure or local registries), as for ggcr's own
	// requests.
	img.Client = NewClient(fmt.Sprintf("%s://%s/v2/%s", repo.Scheme(), repo.RegistryStr(), repo.RepositoryStr()), ro)
	var cfg strings.Builder
	if err := img.Client.Blob(ctx, m.Config.Digest, m.Config.Size).Download(ctx, &cfg); err != nil {
		return nil, fmt.Errorf("fetching the config of %s: %w", ref, err)
	}
	img.Config = []byte(cfg.String())
	var c struct {
		RootFS struct {
			DiffIDs []digest.Digest `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(img.Config, &c); err != nil {
		return nil, fmt.Errorf("parsing the config of %s: %w", ref, err)
	}
	if len(c.RootFS.DiffIDs) != len(img.Layers) {
		return nil, fmt.Errorf("%s: the config has %d DiffIDs for %d layers", ref, len(c.RootFS.DiffIDs), len(img.Layers))
	}
	img.DiffIDs = c.RootFS.DiffIDs
	return img, nil
}

// parsePlatform parses OS/ARCH[/VARIANT]; "" is the host.
func parsePlatform(s string) (v1.Platform, error) {
	if s == "" {
		p := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
		if runtime.GOARCH == "arm" {
			p.Variant = "v7"
		}
		return p, nil
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return v1.Platform{}, fmt.Errorf("platform %q: want OS/ARCH[/VARIANT]", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}
