package zstdchunked

import "github.com/chunkdiff/chunkdiff/internal/blobstream"

// ErrTooFewStreams and ErrTooManyStreams are source contract violations
// (BEHAVIOUR.md "source-contract"), shared with every GetBlobAt consumer.
var (
	ErrTooFewStreams  = blobstream.ErrTooFewStreams
	ErrTooManyStreams = blobstream.ErrTooManyStreams
)
