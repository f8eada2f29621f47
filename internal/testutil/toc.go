package testutil

import (
	"fmt"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TOC returns the uncompressed TOC JSON of a zstd:chunked layer, read
// through its manifest-position annotation independently of the code under
// test, and the TOC data offset (the end of the data section).
func TOC(tb testing.TB, l Layer) ([]byte, int64) {
	tb.Helper()
	var off, clen, ulen, typ int64
	if _, err := fmt.Sscanf(l.Annotations["io.github.containers.zstd-chunked.manifest-position"], "%d:%d:%d:%d", &off, &clen, &ulen, &typ); err != nil {
		tb.Fatalf("manifest-position: %v", err)
	}
	d, err := zstd.NewReader(nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer d.Close()
	raw, err := d.DecodeAll(l.Blob[off:off+clen], nil)
	if err != nil {
		tb.Fatalf("TOC: %v", err)
	}
	return raw, off
}
