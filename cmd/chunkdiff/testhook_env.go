package main

// A test hook, built only with -tags chunkdiff_testhook (the binary the
// tests build): with CHUNKDIFF_TEST_STALL=N the N-th range request (apply,
// inspect) or the N-th read of the input (convert) prints stallMarker to
// stderr and blocks until the command is interrupted, so tests can send a
// signal at a known point in the middle of the work.
const (
	stallEnv    = "CHUNKDIFF_TEST_STALL"
	stallMarker = "chunkdiff-test: stalled"
)
