package zstdchunked

import (
	_ "crypto/sha512" // register sha384/sha512: any go-digest algorithm may be used
	"errors"
	"fmt"
	"io"

	"github.com/chunkdiff/chunkdiff/formats"
	"github.com/chunkdiff/chunkdiff/internal/spool"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
)

// countingReader counts bytes and remembers the source's own error, so a
// network failure is not reported as a decompression error.
type countingReader struct {
	r   io.Reader
	n   uint64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += uint64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// inflateVerified reads exactly compLen compressed bytes from src, hashing
// them, and writes their zstd decompression to dst, which must come to
// exactly outLen bytes. The digest is checked before any decompression
// error is reported, so a corrupted download shows as a digest mismatch.
// Until the digest has been checked dst holds unauthenticated data; callers
// discard it on error.
func inflateVerified(src io.Reader, compLen uint64, want digest.Digest, outLen uint64, dst io.Writer, what string) error {
	if !want.Algorithm().Available() {
		// Digester would panic.
		return fmt.Errorf("zstd:chunked %s: digest algorithm %q not available", what, want.Algorithm())
	}
	h := want.Algorithm().Digester()
	cr := &countingReader{r: io.LimitReader(src, int64(compLen))}
	tee := io.TeeReader(cr, h.Hash())
	dec, err := zstd.NewReader(tee, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(formats.MaxZstdWindow))
	if err != nil {
		return fmt.Errorf("zstd:chunked %s: creating decoder: %w", what, err)
	}
	defer dec.Close()
	n, decErr := io.Copy(spool.MarkWrites(dst), io.LimitReader(dec, int64(outLen)+1))
	// Finish hashing whatever the decoder left unread.
	if _, err := io.Copy(io.Discard, tee); err != nil && cr.err == nil {
		cr.err = err
	}
	if cr.err != nil {
		return fmt.Errorf("zstd:chunked %s: reading from source: %w", what, cr.err)
	}
	if cr.n != compLen {
		return fmt.Errorf("zstd:chunked %s: source stream ended after %d of %d bytes: %w", what, cr.n, compLen, io.ErrUnexpectedEOF)
	}
	if got := h.Digest(); got != want {
		return &formats.DigestError{Format: formats.ZstdChunked, What: what, Expected: want.String(), Computed: got.String()}
	}
	var we *spool.WriteError
	if errors.As(decErr, &we) {
		return fmt.Errorf("zstd:chunked %s: writing spool: %w", what, we.Err)
	}
	if decErr != nil {
		return fmt.Errorf("zstd:chunked %s: decompressing: %w", what, decErr)
	}
	if uint64(n) > outLen {
		return fmt.Errorf("zstd:chunked %s: decompresses to more than the announced %d bytes", what, outLen)
	}
	if uint64(n) != outLen {
		return fmt.Errorf("zstd:chunked %s: decompresses to %d bytes, announced %d", what, n, outLen)
	}
	return nil
}

// copyVerified is inflateVerified for the uncompressed variant written for
// local conversion (FORMATS.md "convert-variant"): the bytes are stored raw, so compLen and
// outLen must agree and the digest covers exactly what is written.
func copyVerified(src io.Reader, compLen uint64, want digest.Digest, outLen uint64, dst io.Writer, what string) error {
	if compLen != outLen {
		return fmt.Errorf("zstd:chunked %s: uncompressed variant with %d stored and %d announced bytes", what, compLen, outLen)
	}
	if !want.Algorithm().Available() {
		return fmt.Errorf("zstd:chunked %s: digest algorithm %q not available", what, want.Algorithm())
	}
	h := want.Algorithm().Digester()
	cr := &countingReader{r: io.LimitReader(src, int64(compLen))}
	_, err := io.Copy(spool.MarkWrites(dst), io.TeeReader(cr, h.Hash()))
	if cr.err != nil {
		return fmt.Errorf("zstd:chunked %s: reading from source: %w", what, cr.err)
	}
	var we *spool.WriteError
	if errors.As(err, &we) {
		return fmt.Errorf("zstd:chunked %s: writing spool: %w", what, we.Err)
	}
	if cr.n != compLen {
		return fmt.Errorf("zstd:chunked %s: source stream ended after %d of %d bytes: %w", what, cr.n, compLen, io.ErrUnexpectedEOF)
	}
	if got := h.Digest(); got != want {
		return &formats.DigestError{Format: formats.ZstdChunked, What: what, Expected: want.String(), Computed: got.String()}
	}
	return nil
}
