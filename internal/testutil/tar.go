package testutil

import (
	"archive/tar"
	"bytes"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/treegen"
)

// Entry is one tar member: a header and, for regular files, its content.
type Entry = treegen.Entry

// TarBytes serialises entries into a tar stream. Headers without an explicit
// Format get PAX when they need it (xattrs, long names, big IDs) and USTAR
// otherwise, as archive/tar decides. Size is taken from Data for regular files.
func TarBytes(tb testing.TB, entries []Entry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := *e.Header
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Data))
		}
		if err := tw.WriteHeader(&h); err != nil {
			tb.Fatalf("tar header %q: %v", h.Name, err)
		}
		if len(e.Data) > 0 {
			if _, err := tw.Write(e.Data); err != nil {
				tb.Fatalf("tar data %q: %v", h.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatalf("tar close: %v", err)
	}
	return buf.Bytes()
}
