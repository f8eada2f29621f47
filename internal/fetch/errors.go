package fetch

import (
	"errors"
	"fmt"

	"github.com/chunkdiff/chunkdiff/internal/blobstream"
	digest "github.com/opencontainers/go-digest"
)

// Sentinel errors a caller can test with errors.Is. They are always wrapped
// with context (request number, file name, counts).
var (
	// ErrRangesRefused: the source answered chunked.ErrBadRequest even for a
	// request of a single range, so ranges cannot be fetched at all. The
	// original ErrBadRequest is wrapped too.
	ErrRangesRefused = errors.New("source refused range requests")
	// ErrTooFewStreams: the source closed its stream channel before sending
	// one stream per requested range.
	ErrTooFewStreams = blobstream.ErrTooFewStreams
	// ErrTooManyStreams: the source sent more streams than ranges requested.
	ErrTooManyStreams = blobstream.ErrTooManyStreams
	// ErrNilStream: the source sent a nil stream.
	ErrNilStream = blobstream.ErrNilStream
	// ErrShortStream: a stream ended before the end of its range.
	ErrShortStream = errors.New("stream shorter than its range")
	// ErrLongStream: a stream had bytes beyond the end of its range.
	ErrLongStream = errors.New("stream longer than its range")
	// ErrShortData: a chunk decompressed to fewer bytes than its size.
	ErrShortData = errors.New("chunk data ends early")
	// ErrInvalidInput: the files given to Fetch are inconsistent (sizes,
	// digests, blob order); nothing was fetched.
	ErrInvalidInput = errors.New("invalid fetch input")
)

// DigestError reports content that does not match its digest: a corrupt or
// lying source. Chunk is -1 for the whole-file digest.
type DigestError struct {
	File      string
	Chunk     int
	Want, Got digest.Digest
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("digest mismatch: want %s, got %s", e.Want, e.Got)
}

// FileError gives an error the file (and chunk) it happened in. Chunk is -1
// for errors about the whole file; Offset is the chunk's offset in the blob.
type FileError struct {
	File   string
	Chunk  int
	Offset int64
	Err    error
}

func (e *FileError) Error() string {
	if e.Chunk < 0 {
		return fmt.Sprintf("fetch: file %q: %v", e.File, e.Err)
	}
	return fmt.Sprintf("fetch: file %q chunk %d at offset %d: %v", e.File, e.Chunk, e.Offset, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// RequestError gives an error the GetBlobAt call it happened in.
type RequestError struct {
	Request int // 0-based call number within this Fetch
	Ranges  int // ranges in the call
	Err     error
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("fetch: request %d (%d ranges): %v", e.Request, e.Ranges, e.Err)
}

func (e *RequestError) Unwrap() error { return e.Err }
