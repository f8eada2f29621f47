package testutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
)

type tocEntry struct {
	Type      string `json:"type"`
	Name      string `json:"name"`
	ChunkType string `json:"chunkType"`
}

// decodeTOCForTest reads the TOC through the manifest-position annotation,
// independently of the code under test elsewhere.
func decodeTOCForTest(t *testing.T, l Layer) []tocEntry {
	t.Helper()
	var off, clen, ulen, typ int64
	if _, err := fmt.Sscanf(l.Annotations["io.github.containers.zstd-chunked.manifest-position"], "%d:%d:%d:%d", &off, &clen, &ulen, &typ); err != nil {
		t.Fatal(err)
	}
	d, err := zstd.NewReader(bytes.NewReader(l.Blob[off : off+clen]))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	raw, err := io.ReadAll(d)
	if err != nil {
		t.Fatal(err)
	}
	var toc struct{ Entries []tocEntry }
	if err := json.Unmarshal(raw, &toc); err != nil {
		t.Fatal(err)
	}
	return toc.Entries
}
