// Package miniregistry is a read-only OCI distribution endpoint serving
// images held in memory: enough for `chunkdiff pull` to pull from (manifests
// by tag or digest, blobs with single and multi-range requests through
// http.ServeContent), small enough to ship in the binary for the demo. Tests
// use the real registry (internal/testregistry).
package miniregistry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
)

// Registry serves what was added to it.
type Registry struct {
	mu        sync.RWMutex
	blobs     map[digest.Digest][]byte
	manifests map[string]manifest // "name:tag" and "name@digest"

	// BlobBytes counts blob body bytes sent.
	BlobBytes atomic.Int64
}

type manifest struct {
	data      []byte
	mediaType string
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{blobs: map[digest.Digest][]byte{}, manifests: map[string]manifest{}}
}

// Layer is a layer blob with its descriptor's annotations.
type Layer struct {
	Blob        []byte
	MediaType   string
	Annotations map[string]string
	DiffID      digest.Digest
}

// AddImage stores an OCI image of layers as name:tag (linux, this config's
// architecture) and returns its manifest digest.
func (r *Registry) AddImage(name, tag, arch string, created time.Time, layers []Layer) (digest.Digest, error) {
	type desc struct {
		MediaType   string            `json:"mediaType"`
		Digest      digest.Digest     `json:"digest"`
		Size        int64             `json:"size"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	var descs []desc
	var diffIDs []digest.Digest
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range layers {
		d := digest.FromBytes(l.Blob)
		r.blobs[d] = l.Blob
		descs = append(descs, desc{MediaType: l.MediaType, Digest: d, Size: int64(len(l.Blob)), Annotations: l.Annotations})
		diffIDs = append(diffIDs, l.DiffID)
	}
	config, err := json.Marshal(map[string]any{
		"created": created, "architecture": arch, "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	if err != nil {
		return "", err
	}
	cd := digest.FromBytes(config)
	r.blobs[cd] = config
	const mt = "application/vnd.oci.image.manifest.v1+json"
	raw, err := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": mt,
		"config": desc{MediaType: "application/vnd.oci.image.config.v1+json", Digest: cd, Size: int64(len(config))},
		"layers": descs,
	})
	if err != nil {
		return "", err
	}
	md := digest.FromBytes(raw)
	r.manifests[name+":"+tag] = manifest{raw, mt}
	r.manifests[name+"@"+md.String()] = manifest{raw, mt}
	return md, nil
}

// ServeHTTP implements the read side of the distribution API.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		http.Error(w, "read-only registry", http.StatusMethodNotAllowed)
		return
	}
	path := strings.TrimPrefix(req.URL.Path, "/v2/")
	if path == "" || path == req.URL.Path {
		if req.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		http.NotFound(w, req)
		return
	}
	if name, ref, ok := strings.Cut(path, "/manifests/"); ok {
		key := name + ":" + ref
		if strings.Contains(ref, ":") {
			key = name + "@" + ref
		}
		r.mu.RLock()
		m, found := r.manifests[key]
		r.mu.RUnlock()
		if !found {
			writeError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
			return
		}
		w.Header().Set("Content-Type", m.mediaType)
		w.Header().Set("Docker-Content-Digest", digest.FromBytes(m.data).String())
		w.Header().Set("Content-Length", fmt.Sprint(len(m.data)))
		if req.Method == http.MethodGet {
			_, _ = w.Write(m.data)
		}
		return
	}
	if _, ref, ok := strings.Cut(path, "/blobs/"); ok {
		d, err := digest.Parse(ref)
		if err != nil {
			writeError(w, http.StatusBadRequest, "DIGEST_INVALID", err.Error())
			return
		}
		r.mu.RLock()
		b, found := r.blobs[d]
		r.mu.RUnlock()
		if !found {
			writeError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown")
			return
		}
		w.Header().Set("Docker-Content-Digest", d.String())
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(&counting{ResponseWriter: w, n: &r.BlobBytes}, req, "", time.Time{}, bytes.NewReader(b))
		return
	}
	http.NotFound(w, req)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

type counting struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *counting) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// Serve listens on a free loopback port and serves r until Close; it
// returns host:port.
func (r *Registry) Serve() (string, func() error, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return l.Addr().String(), srv.Close, nil
}
