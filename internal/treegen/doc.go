// Package treegen generates deterministic file trees and their updates as tar
// entries: a toolchain-like tree (RealisticTree, RealisticEntries) and a
// patch-release update of it (Update). Unlike internal/testutil it does not
// import "testing", so the benchmark binaries (internal/bench) link it.
package treegen

import (
	"archive/tar"
	"time"
)

// Entry is one tar member: a header and, for regular files, its content.
type Entry struct {
	Header *tar.Header
	Data   []byte
}

// Epoch is the base mtime of generated trees: whole seconds, since the
// zstd:chunked TOC and USTAR headers do not keep sub-second times.
var Epoch = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
