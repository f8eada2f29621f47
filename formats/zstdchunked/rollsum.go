package zstdchunked

// Content-defined chunking uses the bup/Perkeep rolling checksum with the
// parameters upstream's writer uses (FORMATS.md "rollsum-chunking"). Boundaries must match
// upstream's bit for bit: chunk-level dedup across producers depends on it.
const (
	rollWindow     = 64 // a power of two: the index wraps with a mask
	rollCharOffset = 31
	rollSplitBits  = 16
	rollSplitMask  = 1<<rollSplitBits - 1
)

// rollsum is the rolling checksum state. The zero value is not valid; use
// newRollsum.
type rollsum struct {
	s1, s2 uint32
	window [rollWindow]byte
	wofs   int
}

func newRollsum() rollsum {
	return rollsum{
		s1: rollWindow * rollCharOffset,
		s2: rollWindow * (rollWindow - 1) * rollCharOffset,
	}
}

// roll adds one byte.
func (r *rollsum) roll(b byte) {
	d := uint32(r.window[r.wofs])
	r.s1 += uint32(b) - d
	r.s2 += r.s1 - rollWindow*(d+rollCharOffset)
	r.window[r.wofs] = b
	r.wofs = (r.wofs + 1) & (rollWindow - 1)
}

// onSplit reports whether the checksum marks a chunk boundary after the
// last byte rolled.
func (r *rollsum) onSplit() bool { return r.s2&rollSplitMask == rollSplitMask }

// rollData rolls the leading non-zero bytes of p, testing for a boundary
// after each. It stops after a boundary byte (split true), before a zero
// byte, or at the end of p, and returns the number of bytes rolled. Zero
// bytes are left to the caller, which must first know whether they start a
// hole.
func (r *rollsum) rollData(p []byte) (n int, split bool) {
	// Locals keep the state in registers in this, the hottest loop.
	s1, s2, w, wofs := r.s1, r.s2, &r.window, r.wofs
	for i, b := range p {
		if b == 0 {
			n = i
			break
		}
		d := uint32(w[wofs])
		s1 += uint32(b) - d
		s2 += s1 - rollWindow*(d+rollCharOffset)
		w[wofs] = b
		wofs = (wofs + 1) & (rollWindow - 1)
		if s2&rollSplitMask == rollSplitMask {
			n, split = i+1, true
			break
		}
		n = i + 1
	}
	r.s1, r.s2, r.wofs = s1, s2, wofs
	return n, split
}

// rollZeros rolls n zero bytes without boundary tests, as is done for a
// hole. Once the window holds only zeros, s1 is back at its initial value
// and rolling a zero changes neither sum, so at most one window's worth of
// zeros needs rolling; only the (then irrelevant) ring position differs.
func (r *rollsum) rollZeros(n int64) {
	for range min(n, rollWindow) {
		r.roll(0)
	}
}
