package differ

// doneSet records which fetch indices are complete. Files complete nearly
// in order (the fetch plans a window at a time; the copies from the store
// run alongside), so it keeps a watermark (every index below low is
// complete) and a bitmap of the completed indices from low on: its memory
// is one bit per index between the watermark and the highest index
// completed, the out-of-order window, not the file count. It is at most
// one bit per file when the watermark stalls (a rejected copy, fetched
// last, holds it until the end).
type doneSet struct {
	low  int      // every index below low is complete
	base int      // index of bit 0 of bits[0]; a multiple of 64, ≤ low
	bits []uint64 // completed indices in [base, base+64·len(bits))
}

// add marks i complete and reports whether it was not already.
func (s *doneSet) add(i int) bool {
	if s.has(i) {
		return false
	}
	w := (i - s.base) / 64
	for w >= len(s.bits) {
		s.bits = append(s.bits, 0)
	}
	s.bits[w] |= 1 << ((i - s.base) % 64)
	for s.has(s.low) {
		s.low++
	}
	// Drop the words wholly below the watermark. Reslicing alone would
	// keep them allocated; append copies only the live words when it
	// grows the array, and an emptied set starts afresh.
	if drop := (s.low - s.base) / 64; drop > 0 {
		s.bits = s.bits[drop:]
		s.base += 64 * drop
		if len(s.bits) == 0 {
			s.bits = nil
		}
	}
	return true
}

// has reports whether i is complete.
func (s *doneSet) has(i int) bool {
	if i < s.low {
		return true
	}
	w := (i - s.base) / 64
	return w < len(s.bits) && s.bits[w]&(1<<((i-s.base)%64)) != 0
}
