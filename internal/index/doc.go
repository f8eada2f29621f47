// Package index is a content index of the layers in a containers/storage
// store: it maps file digests and chunk digests (sha256) to where those bytes
// already live on disk, so a pull can fetch only what the store lacks
// (rule "reuse" in docs/BEHAVIOUR.md; upstream's equivalent is its
// layers cache).
//
// # What is indexed
//
// For a layer whose big data holds a TOC ("zstd-chunked-manifest"), every
// regular file with content gives a whole-file record (its "digest", offset
// 0, its size) and, when the file has several chunks, one record per data
// chunk ("chunkDigest", the chunk's offset and size in the file). "zeros"
// chunks are never indexed: they are holes, nothing is fetched for them.
// Paths are the cleaned TOC name, or for Flat layers ("zstd-chunked-layer-data"
// format 1) the digest path "xx/rest-of-hex".
//
// A layer without a TOC (an ordinary pull) is indexed by walking its diff
// directory and hashing its regular files: whole-file records only. Layers
// without a diff digest (containers' read-write layers, which change under
// us) and layers whose diff directory the store cannot give
// (store.DifferTarget fails: read-only additional stores, drivers without a
// differ) are skipped. Whiteouts (".wh." names), empty files and anything
// that is not a regular file are never indexed.
//
// Within one layer a digest has one record: a whole file beats a chunk, then
// the first in TOC (or walk) order wins.
//
// # Persistence and staleness
//
// Each layer's records live in <GraphRoot>/chunkdiff-index/<layer ID>.cdx
// (format.go), written atomically (temp file, fsync, rename). A file is
// rebuilt when it is missing, has another format version, another layer ID,
// another fingerprint, or fails validation (magic, sizes, CRC-32C over the
// whole file): a damaged index is never trusted. Files of layers the store
// no longer lists are removed.
//
// The fingerprint (fingerprint.go) is what the index was built from, taken
// from the store's layer record so that checking it costs no I/O: the kind
// of source, the layer's creation time (a deleted and re-pulled layer keeps
// its ID but not its creation time), its TOC, diff and compressed digests.
// It does not cover the files themselves: a diff directory modified in
// place after the pull is not detected. That is acceptable because of the
// contract below.
//
// # Contract for callers
//
// A Location is a hint, not a promise: the layer may have been deleted since
// Open (its directory or file is then gone, ENOENT), or its files changed.
// Callers must re-hash whatever bytes they reuse against the digest they
// looked up before using them, and must open Location paths without
// following symlinks out of Location.Dir. A stale entry can then cost a
// wasted read, never a corrupt layer.
//
// # Lookups
//
// Layers are searched newest first. Per layer, a blocked Bloom filter (one
// cache line, ~0.1 % false positives) rules most layers out; the others
// get a fanout bucket and a binary search over the mapped records. Measured
// on 2 cores (BenchmarkLookup): a miss costs ~1.9 µs over 100k records in
// 100 layers and ~6.6 µs over 1M records in 250 layers, the filter reads
// dominating; a hit costs a little more plus one allocation (the path).
//
// # Memory
//
// Open keeps O(layers) heap (one small struct per layer, plus a 256 KiB
// read buffer while verifying); it allocates nothing per entry. It reads
// every file once through that buffer to check its CRC (~30 ms for 1M
// records), then maps it read-only: the resident size grows only with the
// pages lookups touch (the filters: 2 bytes per record; a few record and
// path pages per hit). Files take about 80 bytes per record (56 for the
// record, 2 for the filter, the rest paths). Building one layer holds its
// records in memory: ~60 bytes per record plus its path bytes, and for
// walked layers one small struct per regular file.
package index
