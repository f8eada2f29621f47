package fetch

import (
	"hash"
	"os"

	digest "github.com/opencontainers/go-digest"
)

// openFile is a destination file being written. It moves between workers
// when a file's chunks straddle two calls, so it owns its hash state.
type openFile struct {
	index int
	file  *File // what the file is made of
	f     *os.File
	off   int64     // bytes produced so far, holes included
	hash  hash.Hash // nil when the file has no digest
	// tailHole: the last bytes produced were a hole, so the file must be
	// extended with Truncate (a seek alone does not change its size).
	tailHole bool
}

// fileWriter writes decoded bytes at the file's current offset and feeds
// the file and chunk hashes. WriteAt keeps the write position in openFile,
// so holes are just an offset jump.
type fileWriter struct {
	of    *openFile
	chunk hash.Hash // nil when the chunk has no digest
}

func (w *fileWriter) Write(p []byte) (int, error) {
	n, err := w.of.f.WriteAt(p, w.of.off)
	w.of.off += int64(n)
	if w.of.hash != nil {
		w.of.hash.Write(p[:n])
	}
	if w.chunk != nil {
		w.chunk.Write(p[:n])
	}
	return n, err
}

// zeroBlock feeds hashes for holes.
var zeroBlock [32 << 10]byte

// hashZeros writes n zero bytes into each non-nil hash.
func hashZeros(n int64, hs ...hash.Hash) {
	for n > 0 {
		k := min(n, int64(len(zeroBlock)))
		for _, h := range hs {
			if h != nil {
				h.Write(zeroBlock[:k])
			}
		}
		n -= k
	}
}

// verify compares h's sum with want (h nil or want "": nothing to check).
func verify(h hash.Hash, want digest.Digest, file string, chunk int) error {
	if h == nil || want == "" {
		return nil
	}
	if got := digest.NewDigest(want.Algorithm(), h); got != want {
		return &DigestError{File: file, Chunk: chunk, Want: want, Got: got}
	}
	return nil
}
