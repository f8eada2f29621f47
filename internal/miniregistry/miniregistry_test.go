package miniregistry

import (
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServesManifestsAndRanges(t *testing.T) {
	r := New()
	blob := []byte("0123456789abcdefghij")
	md, err := r.AddImage("demo/app", "1", "amd64", time.Unix(0, 0), []Layer{{Blob: blob, MediaType: "x", DiffID: digest.FromString("t")}})
	require.NoError(t, err)
	srv := httptest.NewServer(r)
	defer srv.Close()
	get := func(method, path, rng string) *http.Response {
		req, err := http.NewRequest(method, srv.URL+path, nil)
		require.NoError(t, err)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}
	assert.Equal(t, http.StatusOK, get("GET", "/v2/", "").StatusCode)
	for _, ref := range []string{"1", md.String()} {
		resp := get("GET", "/v2/demo/app/manifests/"+ref, "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		raw, _ := io.ReadAll(resp.Body)
		assert.Equal(t, md, digest.FromBytes(raw))
		assert.Equal(t, md.String(), resp.Header.Get("Docker-Content-Digest"))
	}
	assert.Equal(t, http.StatusNotFound, get("GET", "/v2/demo/app/manifests/2", "").StatusCode)
	assert.Equal(t, http.StatusNotFound, get("GET", "/v2/demo/app/blobs/"+digest.FromString("x").String(), "").StatusCode)
	assert.Equal(t, http.StatusBadRequest, get("GET", "/v2/demo/app/blobs/sha256:zz", "").StatusCode)
	assert.Equal(t, http.StatusMethodNotAllowed, get("PUT", "/v2/demo/app/blobs/uploads/", "").StatusCode)
	assert.Equal(t, http.StatusNotFound, get("GET", "/other", "").StatusCode)

	b := "/v2/demo/app/blobs/" + digest.FromBytes(blob).String()
	resp := get("GET", b, "bytes=2-4")
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	raw, _ := io.ReadAll(resp.Body)
	assert.Equal(t, "234", string(raw))
	resp = get("GET", b, "bytes=0-1,10-11")
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	require.NoError(t, err)
	assert.Equal(t, "multipart/byteranges", mt)
	assert.Positive(t, r.BlobBytes.Load())

	host, stop, err := r.Serve()
	require.NoError(t, err)
	resp2, err := http.Get("http://" + host + "/v2/")
	require.NoError(t, err)
	_ = resp2.Body.Close()
	assert.Equal(t, http.StatusOK, resp2.StatusCode)
	require.NoError(t, stop())
}
