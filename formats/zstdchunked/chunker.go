package zstdchunked

// holeThreshold is the shortest run of zero bytes that becomes a "zeros"
// chunk (FORMATS.md "rollsum-chunking"); shorter runs are ordinary data.
const holeThreshold = 1 << 10

// zeroBlock feeds zero runs to the sink: a run is only known to be zeros,
// its bytes are not kept.
var zeroBlock [32 << 10]byte

// chunkSink receives one file's payload cut into chunks.
type chunkSink interface {
	// payload appends bytes to the current chunk.
	payload(p []byte) error
	// cut ends the current chunk, which is never empty.
	cut(zeros bool) error
}

// chunker cuts a file payload into content-defined chunks exactly as
// upstream's writer does (FORMATS.md "rollsum-chunking"): rollsum boundaries, no minimum or
// maximum size, zero runs of at least holeThreshold bytes as chunks of
// their own. It holds no payload: a zero run whose length is still
// undecided is only counted (it is < holeThreshold bytes), so memory does
// not depend on the file size.
type chunker struct {
	sink    chunkSink
	rs      rollsum
	cur     int64 // bytes in the current chunk
	pending int64 // zeros seen but not yet classified (< holeThreshold)
	inHole  bool  // the current chunk is a hole still growing
}

// reset starts a new file: the rolling state is per file, not per chunk.
func (c *chunker) reset() {
	c.rs = newRollsum()
	c.cur, c.pending, c.inHole = 0, 0, false
}

func (c *chunker) write(p []byte) error {
	for len(p) > 0 {
		switch {
		case c.inHole:
			n := leadingZeros(p)
			if n > 0 {
				if err := c.emit(p[:n]); err != nil {
					return err
				}
				c.rs.rollZeros(int64(n))
				p = p[n:]
			}
			if len(p) > 0 { // a non-zero byte ends the hole
				if err := c.cut(true); err != nil {
					return err
				}
			}
		case c.pending > 0 || p[0] == 0:
			n := leadingZeros(p)
			c.pending += int64(n)
			p = p[n:]
			switch {
			case c.pending >= holeThreshold:
				if err := c.startHole(); err != nil {
					return err
				}
			case len(p) > 0: // the run ended short: it was data
				if err := c.flushDataZeros(); err != nil {
					return err
				}
			}
		default:
			n, split := c.rs.rollData(p)
			if err := c.emit(p[:n]); err != nil {
				return err
			}
			p = p[n:]
			if split {
				if err := c.cut(false); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// close ends the file's last chunk.
func (c *chunker) close() error {
	if c.inHole {
		return c.cut(true)
	}
	if err := c.flushDataZeros(); err != nil {
		return err
	}
	if c.cur > 0 {
		return c.cut(false)
	}
	return nil
}

// startHole turns the pending zero run into a hole: the data chunk before
// it ends, and the zeros are rolled without boundary tests.
func (c *chunker) startHole() error {
	if c.cur > 0 {
		if err := c.cut(false); err != nil {
			return err
		}
	}
	c.inHole = true
	n := c.pending
	c.pending = 0
	c.rs.rollZeros(n)
	return c.emitZeros(n)
}

// flushDataZeros rolls a short zero run as ordinary data bytes, one
// boundary test per byte, like any other data.
func (c *chunker) flushDataZeros() error {
	for c.pending > 0 {
		var k int64
		split := false
		for k < c.pending {
			c.rs.roll(0)
			k++
			if c.rs.onSplit() {
				split = true
				break
			}
		}
		c.pending -= k
		if err := c.emitZeros(k); err != nil {
			return err
		}
		if split {
			if err := c.cut(false); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *chunker) emit(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	c.cur += int64(len(p))
	return c.sink.payload(p)
}

func (c *chunker) emitZeros(n int64) error {
	for n > 0 {
		k := min(n, int64(len(zeroBlock)))
		if err := c.emit(zeroBlock[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

func (c *chunker) cut(zeros bool) error {
	c.cur = 0
	c.inHole = false
	return c.sink.cut(zeros)
}

// leadingZeros counts the zero bytes at the start of p.
func leadingZeros(p []byte) int {
	i := 0
	for i+8 <= len(p) && p[i]|p[i+1]|p[i+2]|p[i+3]|p[i+4]|p[i+5]|p[i+6]|p[i+7] == 0 {
		i += 8
	}
	for i < len(p) && p[i] == 0 {
		i++
	}
	return i
}
