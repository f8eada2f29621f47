package convert

import (
	"fmt"
	"io"

	"github.com/chunkdiff/chunkdiff/formats/zstdchunked"
)

// Publish converts any layer blob (tar, gzip or zstd, detected) into a
// compressed zstd:chunked blob written to dst, ready to push with the
// returned annotations.
func Publish(dst io.Writer, blob io.Reader, opts ...zstdchunked.WriterOption) (*zstdchunked.Result, Compression, error) {
	tarStream, comp, err := Decompress(blob)
	if err != nil {
		return nil, comp, fmt.Errorf("convert: %w", err)
	}
	defer tarStream.Close()
	res, err := zstdchunked.Compress(dst, tarStream, opts...)
	if err != nil {
		return nil, comp, fmt.Errorf("convert: %s layer: %w", comp, err)
	}
	return res, comp, nil
}
