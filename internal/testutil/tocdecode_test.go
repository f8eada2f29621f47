package testutil

import (
	"encoding/json"
	"testing"
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
	raw, _ := TOC(t, l)
	var toc struct{ Entries []tocEntry }
	if err := json.Unmarshal(raw, &toc); err != nil {
		t.Fatal(err)
	}
	return toc.Entries
}
