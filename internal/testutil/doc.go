// Package testutil is the shared test harness: deterministic tar trees,
// layer producers (zstd:chunked, eStargz, gzip, zstd), a scripted range
// source with fault injection, real containers/storage stores, and tree
// snapshots for comparing what a pull produced with what went in.
package testutil
