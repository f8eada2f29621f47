package index

import (
	"encoding/binary"
	"math/bits"
)

// Each layer file carries a blocked Bloom filter: a digest maps to one
// 64-byte block (one cache line) and sets bloomK bits in it. The digests are
// sha256 outputs, already uniform, so their bytes are the hash: bytes 0–7
// pick the block, bytes 8–15 give the bit positions (9 bits each).
//
// Sizing: 16 bits per record (a block per 32 records); with 7 bits per
// digest the false-positive rate is about 0.2 %, so a miss across 250
// layers costs ~250 cache-resident line reads and half a binary search.
// Memory: 2 bytes per record, mapped with the rest of the file.
const (
	blockSize       = 64
	recordsPerBlock = 32
	bloomK          = 7
)

func bloomBlocks(n uint64) uint64 {
	return (n + recordsPerBlock - 1) / recordsPerBlock
}

// bloomSpot returns the block of raw among n blocks and its bit positions
// packed 9 bits each.
func bloomSpot(raw *[32]byte, n uint64) (uint64, uint64) {
	hi, _ := bits.Mul64(binary.LittleEndian.Uint64(raw[0:8]), n)
	return hi, binary.LittleEndian.Uint64(raw[8:16])
}

func newBloom(recs []record) []byte {
	n := bloomBlocks(uint64(len(recs)))
	f := make([]byte, n*blockSize)
	for i := range recs {
		blk, pos := bloomSpot(&recs[i].digest, n)
		b := f[blk*blockSize : (blk+1)*blockSize]
		for range bloomK {
			bit := pos & 511
			b[bit>>3] |= 1 << (bit & 7)
			pos >>= 9
		}
	}
	return f
}

// mayContain is false when raw is certainly not among the records.
func mayContain(f []byte, raw *[32]byte) bool {
	n := uint64(len(f)) / blockSize
	if n == 0 {
		return false
	}
	blk, pos := bloomSpot(raw, n)
	b := f[blk*blockSize : (blk+1)*blockSize : (blk+1)*blockSize]
	for range bloomK {
		bit := pos & 511
		if b[bit>>3]&(1<<(bit&7)) == 0 {
			return false
		}
		pos >>= 9
	}
	return true
}
