package toc

// Sink receives the entries of a TOC's one decoding pass: a format's Load
// validates each entry and hands it on, so that whatever the caller builds
// from the TOC (the differ's layout) needs no second decode.
type Sink interface {
	// Add is called for every entry that belongs to the layer, in TOC
	// order, after the format validated it. e is reused once Add returns.
	// An error ends the load with that error.
	Add(e *Entry) error
	// TempSpace is the most the sink writes to the temp dir for a TOC of
	// tocSize uncompressed bytes, so that the load's free-space check,
	// made before anything is spooled, covers the sink too.
	TempSpace(tocSize uint64) uint64
}
