// Package layerfile opens a layer blob stored in a local file as the range
// source a differ reads from (chunked.ImageSourceSeekable), the way a
// registry serves it: every read is a range request, counted in Stats.
//
// graphdriver.Differ.ApplyDiff takes no context, so the source is where a
// pull is cancelled: once the context given to Open is done, new requests
// and reads in flight fail with the context's error, and the differ cleans
// up as after any failed fetch.
package layerfile

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/chunkdiff/chunkdiff/internal/source"
	"github.com/opencontainers/go-digest"
	"go.podman.io/storage/pkg/chunked"
)

// File serves range requests from a local blob file. It is safe for
// concurrent use. Consumers of GetBlobAt must drain both returned channels.
type File struct {
	ctx  context.Context
	f    *os.File
	path string
	src  *source.ReaderAt
}

var _ chunked.ImageSourceSeekable = (*File)(nil)

// Stats counts what was requested and read so far.
type Stats struct {
	Requests int64 // GetBlobAt calls accepted
	Ranges   int64 // ranges in those calls
	Bytes    int64 // bytes read by the consumer
}

// Open opens the blob at path. Reads fail once ctx is done. Close the File
// when every GetBlobAt response has been drained.
func Open(ctx context.Context, path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening layer blob: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("opening layer blob: %w", err)
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("layer blob %s is not a regular file", path)
	}
	return &File{ctx: ctx, f: f, path: path, src: source.NewReaderAt(ctxReaderAt{ctx, f}, fi.Size())}, nil
}

// Path is the file's path as given to Open.
func (f *File) Path() string { return f.path }

// Size is the blob's size, fixed when it was opened.
func (f *File) Size() int64 { return f.src.Size() }

// Digest hashes the whole file (the blob digest a manifest would name).
// Its reads are not counted in Stats.
func (f *File) Digest() (digest.Digest, error) {
	d, err := digest.SHA256.FromReader(io.NewSectionReader(ctxReaderAt{f.ctx, f.f}, 0, f.Size()))
	if err != nil {
		return "", fmt.Errorf("hashing %s: %w", f.path, err)
	}
	return d, nil
}

// Stats returns the counters so far.
func (f *File) Stats() Stats {
	s := f.src.Stats()
	return Stats{Requests: s.Requests, Ranges: s.Ranges, Bytes: s.Bytes}
}

// GetBlobAt implements chunked.ImageSourceSeekable: one stream per range,
// in order; an invalid request (unsorted, overlapping, past the end) fails
// at once naming the range.
func (f *File) GetBlobAt(chunks []chunked.ImageSourceChunk) (chan io.ReadCloser, chan error, error) {
	if err := f.ctx.Err(); err != nil {
		return nil, nil, err
	}
	return f.src.GetBlobAt(chunks)
}

// Close closes the file.
func (f *File) Close() error {
	if err := f.f.Close(); err != nil {
		return fmt.Errorf("closing layer blob: %w", err)
	}
	return nil
}

// ctxReaderAt fails reads once ctx is done.
type ctxReaderAt struct {
	ctx context.Context
	r   io.ReaderAt
}

func (c ctxReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.ReadAt(p, off)
}

// ReadAnnotations reads a layer descriptor's annotations from a JSON object
// of strings, as `chunkdiff convert` writes them beside the blob.
func ReadAnnotations(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading annotations: %w", err)
	}
	var ann map[string]string
	if err := json.Unmarshal(raw, &ann); err != nil {
		return nil, fmt.Errorf("annotations file %s: want a JSON object of strings: %w", path, err)
	}
	return ann, nil
}
