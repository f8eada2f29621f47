package convert

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/chunkdiff/chunkdiff/formats/zstdchunked"
	"github.com/chunkdiff/chunkdiff/internal/blobstream"
	"github.com/chunkdiff/chunkdiff/internal/readahead"
	"github.com/chunkdiff/chunkdiff/internal/spool"
	"github.com/opencontainers/go-digest"
	"go.podman.io/storage/pkg/chunked"
)

// Local is a blob converted for convert_images: the uncompressed
// zstd:chunked variant in an unlinked temp file, and what was learnt on the
// way. Close releases the file.
type Local struct {
	File        *os.File
	Size        int64 // of File
	Annotations zstdchunked.Annotations
	// CompressedDigest is the digest of the downloaded blob, verified
	// equal to the blob digest the layer was announced with.
	CompressedDigest digest.Digest
	// DiffID and TarSize describe the uncompressed tar.
	DiffID      digest.Digest
	TarSize     int64
	Compression Compression
	BlobBytes   int64
}

// Close releases the converted file.
func (l *Local) Close() error {
	if l == nil || l.File == nil {
		return nil
	}
	err := l.File.Close()
	l.File = nil
	return err
}

// DigestMismatchError: the downloaded blob is not the one announced.
type DigestMismatchError struct {
	Want, Got digest.Digest
}

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("convert: downloaded blob has digest %s, want %s", e.Got, e.Want)
}

// FetchAndConvert downloads the whole blob (one range; blobSize -1 means
// "to the end"), verifies its digest while reading, and writes the
// uncompressed zstd:chunked variant to an unlinked temp file in dir. One
// pass, streaming: the compressed blob is never stored.
func FetchAndConvert(ctx context.Context, src chunked.ImageSourceSeekable, blobSize int64, blobDigest digest.Digest, dir string) (_ *Local, retErr error) {
	if err := blobDigest.Validate(); err != nil {
		return nil, fmt.Errorf("convert: blob digest %q: %w", blobDigest, err)
	}
	length := uint64(math.MaxUint64)
	if blobSize >= 0 {
		length = uint64(blobSize)
	}
	// Get, not GetBlobAt: a source that accepts the request and never
	// answers must not outlive ctx.
	resp, err := blobstream.Get(ctx, src, []chunked.ImageSourceChunk{{Offset: 0, Length: length}})
	if err != nil {
		return nil, fmt.Errorf("convert: requesting the whole blob: %w", err)
	}
	stream, err := resp.Next(ctx)
	if err != nil {
		resp.Abandon()
		return nil, fmt.Errorf("convert: fetching the blob: %w", err)
	}
	finished := false
	defer func() {
		if !finished {
			_ = stream.Close()
			resp.Abandon() // the error being returned says it all
		}
	}()

	f, err := spool.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	defer func() {
		if retErr != nil {
			_ = f.Close()
		}
	}()
	res, err := convertStream(ctx, stream, blobDigest, f, dir)
	if err != nil {
		return nil, err
	}
	if blobSize >= 0 && res.BlobBytes != blobSize {
		return nil, fmt.Errorf("convert: the blob has %d bytes, want %d", res.BlobBytes, blobSize)
	}
	// Before the file is handed over: an error sent after the stream still
	// fails the conversion.
	finished = true
	_ = stream.Close()
	if err := resp.Finish(ctx); err != nil {
		return nil, fmt.Errorf("convert: fetching the blob: %w", err)
	}
	res.File = f
	return res, nil
}

// Readahead: 4 × 1 MiB, each filled before it is handed over, keeps the
// decompressor a few milliseconds ahead, enough to run it on the other
// core, without holding much memory.
const (
	readaheadSize    = 1 << 20
	readaheadBuffers = 4
)

// convertStream converts blob into dst, verifying the blob's digest; the
// writer spools the TOC and tar-split in tempDir.
func convertStream(ctx context.Context, blob io.Reader, want digest.Digest, dst *os.File, tempDir string) (*Local, error) {
	if !want.Algorithm().Available() {
		return nil, fmt.Errorf("convert: digest algorithm %q not available", want.Algorithm())
	}
	h := want.Algorithm().Digester()
	counted := &counter{r: ctxReader{ctx, blob}}
	tee := io.TeeReader(counted, h.Hash())
	tarStream, comp, err := Decompress(tee)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	defer tarStream.Close()
	ra := readahead.NewFilling(tarStream, readaheadSize, readaheadBuffers, nil)
	out, err := zstdchunked.Compress(dst, ra, zstdchunked.WithoutCompression(), zstdchunked.WithTempDir(tempDir))
	// Stop decompressing ahead before this goroutine reads tee itself.
	_ = ra.Close()
	if err != nil {
		// A digest mismatch explains a corrupt stream better than the
		// decoder's complaint; check it first when the blob was read whole.
		if _, cerr := io.Copy(io.Discard, tee); cerr == nil && h.Digest() != want {
			return nil, &DigestMismatchError{Want: want, Got: h.Digest()}
		}
		return nil, fmt.Errorf("convert: %s layer: %w", comp, err)
	}
	// Read whatever follows the compressed stream (it is part of the blob
	// and of its digest).
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return nil, fmt.Errorf("convert: reading the blob: %w", err)
	}
	if got := h.Digest(); got != want {
		return nil, &DigestMismatchError{Want: want, Got: got}
	}
	return &Local{
		Size: out.BlobSize, Annotations: out.Annotations, CompressedDigest: want,
		DiffID: out.DiffID, TarSize: out.TarSize, Compression: comp, BlobBytes: counted.n,
	}, nil
}

type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ctxReader stops a long download when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
