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

// writeSkippable writes data as one skippable frame.
func writeSkippable(w io.Writer, data []byte) error {
	if uint64(len(data)) > math.MaxUint32 {
		return fmt.Errorf("zstd:chunked writer: %d bytes do not fit in a skippable frame", len(data))
	}
	var h [skippableHeader]byte
	copy(h[:], skippableMagic[:])
	binary.LittleEndian.PutUint32(h[4:], uint32(len(data)))
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
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
