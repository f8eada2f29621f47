package toc

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecoder checks that no input panics, that errors are sticky, and that
// whatever the decoder accepts encoding/json accepts too and decodes the
// same entry count.
func FuzzDecoder(f *testing.F) {
	addTOCSeeds(f, rand.New(rand.NewPCG(3, 4)))
	f.Add([]byte(`{"entries":[{"type":"reg","name":"a","xattrs":{"k":"dg=="},"modtime":"2020-01-01T00:00:00Z"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, d, err := decodeAll(t, data)
		if err != nil {
			if _, err2 := d.Next(); err2 != err {
				t.Fatalf("error not sticky")
			}
			return
		}
		if _, err := d.Next(); err != io.EOF {
			t.Fatalf("Next after EOF: %v", err)
		}
		var ref struct {
			Entries []json.RawMessage `json:"entries"`
		}
		if err := json.Unmarshal(data, &ref); err != nil {
			// encoding/json is stricter about UTF-8/duplicate-case keys in some
			// corners; only structural disagreement matters here.
			return
		}
		if len(ref.Entries) != len(es) {
			t.Fatalf("%d entries, encoding/json sees %d", len(es), len(ref.Entries))
		}
	})
}

// addTOCSeeds seeds f with generated TOCs and the real ones extracted from
// upstream-written blobs (testdata; see the zstdchunked tests).
func addTOCSeeds(f *testing.F, r *rand.Rand) {
	for i := range 4 {
		f.Add(genTOC(f, r, i*3, i%2 == 0))
	}
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
}
