package registry

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/miniregistry"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.podman.io/storage/pkg/chunked"
)

type anonymous struct{}

func (anonymous) Resolve(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }

// --tls-verify=false reaches a registry with a self-signed certificate over
// HTTPS, and the blob requests follow the scheme the ping found.
func TestResolveInsecureTLS(t *testing.T) {
	reg := miniregistry.New()
	blob := randomBlob(100 << 10)
	diffID := digest.FromString("tar")
	md, err := reg.AddImage("demo/app", "1", "amd64", time.Unix(0, 0).UTC(), []miniregistry.Layer{{Blob: blob, MediaType: "application/vnd.oci.image.layer.v1.tar+zstd", DiffID: diffID}})
	require.NoError(t, err)
	srv := httptest.NewTLSServer(reg)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")

	ref, err := ParseReference("docker://"+host+"/demo/app:1", true)
	require.NoError(t, err)
	img, err := Resolve(t.Context(), ref, ResolveOptions{Insecure: true, Keychain: anonymous{}})
	require.NoError(t, err)
	assert.Equal(t, md, img.ManifestDigest)
	assert.Equal(t, []digest.Digest{diffID}, img.DiffIDs)
	require.Len(t, img.Layers, 1)
	b := img.Client.Blob(t.Context(), img.Layers[0].Digest, img.Layers[0].Size)
	defer b.Close()
	chunks := []chunked.ImageSourceChunk{{Offset: 5, Length: 10}, {Offset: 50000, Length: 100}}
	got, err := fetch(t, b, chunks)
	require.NoError(t, err)
	assert.Equal(t, want(blob, chunks), got)

	// Verified TLS refuses the self-signed certificate.
	ref, err = ParseReference(host+"/demo/app:1", false)
	require.NoError(t, err)
	_, err = Resolve(t.Context(), ref, ResolveOptions{Keychain: anonymous{}})
	require.Error(t, err)
	requireNoLeak(t)
}

func TestParseReferenceAndPlatform(t *testing.T) {
	for _, s := range []string{"docker://example.com/a/b:1", "//example.com/a/b:1", "example.com/a/b:1"} {
		r, err := ParseReference(s, false)
		require.NoError(t, err, s)
		assert.Equal(t, "example.com/a/b:1", r.String())
	}
	_, err := ParseReference("docker://Not Valid", false)
	assert.ErrorContains(t, err, "Not Valid")
	p, err := parsePlatform("linux/arm64/v8")
	require.NoError(t, err)
	assert.Equal(t, "v8", p.Variant)
	for _, bad := range []string{"linux", "/amd64", "a/b/c/d"} {
		_, err := parsePlatform(bad)
		assert.ErrorContains(t, err, "OS/ARCH", bad)
	}
}
