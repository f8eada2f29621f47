package toc

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// fullTop decodes data in full, as the decoding pass does.
func fullTop(data []byte) (*Decoder, error) {
	d := NewDecoder(bytes.NewReader(data))
	for {
		if _, err := d.Next(); err != nil {
			if err == io.EOF {
				return d, nil
			}
			return d, err
		}
	}
}

// checkScanTop: whatever the full decoder accepts, ScanTop accepts with the
// same top-level fields; whatever ScanTop rejects, it rejects with the full
// decoder's error (the one naming the entry at fault).
func checkScanTop(t *testing.T, data []byte) {
	t.Helper()
	full, ferr := fullTop(data)
	top, err := ScanTop(func() io.Reader { return bytes.NewReader(data) })
	if err != nil {
		if ferr == nil {
			t.Fatalf("ScanTop failed on a valid document: %v\n%.300s", err, data)
		}
		if err.Error() != ferr.Error() {
			t.Fatalf("ScanTop error %q, the full decoder's %q", err, ferr)
		}
		return
	}
	if top.Index() != 0 {
		t.Fatalf("ScanTop decoded %d entries", top.Index())
	}
	if ferr != nil {
		return // a bad entry: the decoding pass reports it
	}
	if top.Version() != full.Version() || top.TarSplitDigest() != full.TarSplitDigest() {
		t.Fatalf("ScanTop: version %d, tarSplitDigest %q; full decode: %d, %q\n%.300s",
			top.Version(), top.TarSplitDigest(), full.Version(), full.TarSplitDigest(), data)
	}
}

const dg = "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestScanTop(t *testing.T) {
	big := `"` + strings.Repeat("x", maxTopMembers) + `"`
	docs := map[string]string{
		"writer order":          `{"version":1,"entries":[{"type":"reg","name":"a"}],"tarSplitDigest":"` + dg + `"}`,
		"digest first":          `{"tarSplitDigest":"` + dg + `","version":2,"entries":[]}`,
		"no digest":             `{"version":1,"entries":[{"type":"dir","name":"d/"}]}`,
		"capitalised keys":      `{"Version":3,"Entries":[{"type":"dir","name":"]"}],"TARSPLITDIGEST":"` + dg + `"}`,
		"escaped key":           `{"version":1,"entries":[],"tarSplit\u0044igest":"` + dg + `"}`,
		"escaped entries key":   `{"version":1,"entri\u0065s":[{"type":"dir","name":"d"}],"tarSplitDigest":"` + dg + `"}`,
		"quotes and brackets":   `{"entries":[{"type":"reg","name":"a\"]}\\","linkName":"\\\\"},{"type":"dir","name":"[{"}],"tarSplitDigest":"` + dg + `"}`,
		"nested unknown":        `{"x":{"a":[1,{"b":"}"}]},"version":4,"entries":null,"tarSplitDigest":"` + dg + `"}`,
		"big unknown member":    `{"pad":` + big + `,"version":1,"entries":[],"tarSplitDigest":"` + dg + `"}`,
		"whitespace":            " \n{ \"version\" : 1 ,\n \"entries\" : [ ] , \"tarSplitDigest\" : \"" + dg + "\" }\n ",
		"null digest":           `{"version":1,"entries":[],"tarSplitDigest":null}`,
		"twice":                 `{"tarSplitDigest":"sha256:` + strings.Repeat("1", 64) + `","entries":[],"tarSplitDigest":"` + dg + `"}`,
		"two entries arrays":    `{"entries":[{"type":"dir","name":"a"}],"version":1,"entries":[{"type":"dir","name":"b"}]}`,
		"bad digest":            `{"version":1,"entries":[],"tarSplitDigest":"nope"}`,
		"bad version":           `{"version":"one","entries":[]}`,
		"truncated entries":     `{"version":1,"entries":[{"type":"reg","name":"a`,
		"truncated after":       `{"version":1,"entries":[],"tarSplitDigest":"` + dg,
		"trailing data":         `{"version":1,"entries":[]} x`,
		"bad entry syntax":      `{"version":1,"entries":[{"type":"reg","name":1}],"tarSplitDigest":"` + dg + `"}`,
		"unbalanced in entries": `{"version":1,"entries":[{"type":"reg"]]],"tarSplitDigest":"` + dg + `"}`,
		"not an object":         `[1,2]`,
		"empty":                 ``,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) { checkScanTop(t, []byte(doc)) })
	}
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 20 {
		checkScanTop(t, genTOC(t, r, i*7, i%3 == 0))
	}
}

// Names full of backslashes and quotes, split at every read boundary: the
// scan carries its string state from one buffered piece to the next.
func TestScanTopAcrossPieces(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"version":1,"entries":[`)
	for i := range 5000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"type":"reg","name":"` + strings.Repeat(`\\`, i%7) + `\"` + strings.Repeat("]", i%5) + `"}`)
	}
	b.WriteString(`],"tarSplitDigest":"` + dg + `"}`)
	data := []byte(b.String())
	checkScanTop(t, data)
	top, err := ScanTop(func() io.Reader {
		return io.MultiReader(bytes.NewReader(data[:len(data)/3]), &oneByteReader{data[len(data)/3:]})
	})
	if err != nil || string(top.TarSplitDigest()) != dg {
		t.Fatalf("piecewise: %v %v", err, top)
	}
}

type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	p[0], r.b = r.b[0], r.b[1:]
	return 1, nil
}

func FuzzScanTop(f *testing.F) {
	addTOCSeeds(f, rand.New(rand.NewPCG(9, 10)))
	f.Add([]byte(`{"x":"\\\"","entries":[["\\"]],"tarSplitDigest":"` + dg + `"}`))
	f.Fuzz(checkScanTop)
}
