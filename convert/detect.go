// Package convert turns any layer blob (tar, gzip or zstd) into the
// zstd:chunked layout: for publishing (a compressed blob plus its
// annotations), and for convert_images, where a layer that cannot be pulled
// partially is downloaded whole and converted locally so that it still gets
// a TOC (the uncompressed variant, FORMATS.md "convert-variant").
package convert

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/chunkdiff/chunkdiff/formats"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression is what a blob was compressed with, detected from its magic.
type Compression string

// Detected compressions.
const (
	Uncompressed Compression = "uncompressed"
	Gzip         Compression = "gzip"
	Zstd         Compression = "zstd"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Decompress detects r's compression from its first bytes and returns the
// decompressed stream. A blob that is neither gzip nor zstd is taken as an
// uncompressed tar (the tar reader rejects anything else).
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(4)
	if err != nil && err != io.EOF {
		return nil, "", fmt.Errorf("reading the blob's first bytes: %w", err)
	}
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, Gzip, fmt.Errorf("gzip: %w", err)
		}
		return zr, Gzip, nil
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(formats.MaxZstdWindow))
		if err != nil {
			return nil, Zstd, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), Zstd, nil
	}
	return io.NopCloser(br), Uncompressed, nil
}
