// Package layer builds the benchmark's layer blobs: a directory tree as a
// deterministic tar, compressed with upstream's zstd:chunked compressor,
// cached on disk with its annotations and a description.
package layer

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/storage/pkg/chunked/compressor"
	"go.podman.io/storage/pkg/chunked/toc"
)

// Meta describes a built layer; it is stored as meta.json next to the blob.
type Meta struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Counts      Counts        `json:"counts"`
	TarBytes    int64         `json:"tar_bytes"`
	BlobBytes   int64         `json:"blob_bytes"`
	BlobDigest  digest.Digest `json:"blob_digest"`
	DiffID      digest.Digest `json:"diffid"`
	TOCDigest   digest.Digest `json:"toc_digest,omitempty"`
	Format      string        `json:"format,omitempty"` // "" is zstd:chunked
}

// Files are where a built layer lives.
type Files struct {
	Dir string
}

// Blob, Annotations and Meta are the paths pullone and the harness read.
// A gzip layer's blob has the same name: only its content says gzip.
func (f Files) Blob() string        { return filepath.Join(f.Dir, "layer.tar.zst") }
func (f Files) Annotations() string { return filepath.Join(f.Dir, "annotations.json") }
func (f Files) Meta() string        { return filepath.Join(f.Dir, "meta.json") }

// countingWriter counts what passes through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// TarSource writes a layer's tar to w and says what it held.
type TarSource func(w io.Writer) (Counts, error)

// TreeTar is the tar of the directory tree dir (WriteTar).
func TreeTar(dir string) TarSource {
	return func(w io.Writer) (Counts, error) { return WriteTar(w, dir) }
}

// Build writes the tar from src, compressed as format (FormatZstdChunked:
// upstream's compressor at its default level; FormatGzip: compress/gzip at
// its default level, no TOC), and the annotations into f.Dir. The caller
// writes meta.json last, so its presence means the layer is complete.
func Build(f Files, src TarSource, format string, m Meta) (Meta, error) {
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return m, fmt.Errorf("layer dir: %w", err)
	}
	out, err := os.Create(f.Blob())
	if err != nil {
		return m, fmt.Errorf("create blob: %w", err)
	}
	defer out.Close()
	blobHash := sha256.New()
	bw := bufio.NewWriterSize(out, 1<<20)
	blob := &countingWriter{w: io.MultiWriter(bw, blobHash)}

	ann := map[string]string{}
	var zw io.WriteCloser
	switch format {
	case FormatZstdChunked:
		zw, err = compressor.ZstdCompressor(blob, ann, nil)
	case FormatGzip:
		zw = gzip.NewWriter(blob)
	default:
		err = fmt.Errorf("unknown layer format %q", format)
	}
	if err != nil {
		return m, fmt.Errorf("layer writer: %w", err)
	}
	tarHash := sha256.New()
	tarOut := &countingWriter{w: io.MultiWriter(zw, tarHash)}
	if m.Counts, err = src(tarOut); err != nil {
		return m, err
	}
	// The annotations are only filled in by Close.
	if err := zw.Close(); err != nil {
		return m, fmt.Errorf("%s close: %w", format, err)
	}
	if err := bw.Flush(); err != nil {
		return m, fmt.Errorf("write blob: %w", err)
	}
	if err := out.Close(); err != nil {
		return m, fmt.Errorf("write blob: %w", err)
	}
	if format == FormatZstdChunked {
		tocDigest, err := toc.GetTOCDigest(ann)
		if err != nil || tocDigest == nil {
			return m, fmt.Errorf("no TOC digest in annotations %v: %v", ann, err)
		}
		m.TOCDigest = *tocDigest
	}
	m.TarBytes, m.BlobBytes = tarOut.n, blob.n
	m.BlobDigest = digest.NewDigestFromBytes(digest.SHA256, blobHash.Sum(nil))
	m.DiffID = digest.NewDigestFromBytes(digest.SHA256, tarHash.Sum(nil))
	if format != FormatZstdChunked {
		m.Format = format
	}
	return m, writeJSON(f.Annotations(), ann)
}

// Load reads a built layer's meta.json; ok is false if it is not built.
func Load(f Files) (m Meta, ok bool, err error) {
	b, err := os.ReadFile(f.Meta())
	if os.IsNotExist(err) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("layer meta: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, false, fmt.Errorf("layer meta %s: %w", f.Meta(), err)
	}
	return m, true, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
