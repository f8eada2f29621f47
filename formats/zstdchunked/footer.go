package zstdchunked

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// skippableMagic is the first zstd skippable-frame magic, 0x184D2A50 little
// endian, the one upstream always uses (FORMATS.md "skippable-frame").
var skippableMagic = [4]byte{0x50, 0x2a, 0x4d, 0x18}

// footerMagic ends the footer ("GNUlInUx", FORMATS.md "zstd-footer").
var footerMagic = [8]byte{'G', 'N', 'U', 'l', 'I', 'n', 'U', 'x'}

// footerSize is the footer frame's user data size.
const footerSize = trailerSize - skippableHeader

// copySkippable writes n bytes from r as one skippable frame.
func copySkippable(w io.Writer, r io.Reader, n int64) error {
	if n < 0 || uint64(n) > math.MaxUint32 {
		return fmt.Errorf("zstd:chunked writer: %d bytes do not fit in a skippable frame", n)
	}
	var h [skippableHeader]byte
	copy(h[:], skippableMagic[:])
	binary.LittleEndian.PutUint32(h[4:], uint32(n))
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	if _, err := io.CopyN(w, r, n); err != nil {
		return fmt.Errorf("copying %d bytes of metadata: %w", n, err)
	}
	return nil
}

// footerBytes encodes the 64-byte footer. Readers use the annotations, not
// the footer; it only makes the blob self-describing.
func footerBytes(toc, tarSplit Position) []byte {
	b := make([]byte, footerSize)
	for i, v := range []uint64{toc.Offset, toc.Length, toc.UncompressedLength, manifestTypeCRFS, tarSplit.Offset, tarSplit.Length, tarSplit.UncompressedLength} {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	copy(b[56:], footerMagic[:])
	return b
}
