package zstdchunked

import "github.com/chunkdiff/chunkdiff/internal/blobstream"

// ErrTooFewStreams and ErrTooManyStreams are source contract violations
// (BEHAVIOUR §1.2), shared with every GetBlobAt consumer.
var (
	ErrTooFewStreams  = blobstream.ErrTooFewStreams
	ErrTooManyStreams = blobstream.ErrTooManyStreams
)
