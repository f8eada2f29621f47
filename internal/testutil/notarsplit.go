package testutil

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
)

// WithoutTarSplit rewrites a zstd:chunked layer so that its TOC has no
// tarSplitDigest (as older writers produced): the new TOC is appended as a
// skippable frame before the footer and the annotations point at it. Such a
// layer can only be pulled partially with
// insecure_allow_unpredictable_image_contents, identified by its TOC.
func WithoutTarSplit(tb testing.TB, l Layer) Layer {
	tb.Helper()
	var off, length, ulen, typ uint64
	if _, err := fmt.Sscanf(l.Annotations[annTOCPosition], "%d:%d:%d:%d", &off, &length, &ulen, &typ); err != nil {
		tb.Fatalf("TOC position: %v", err)
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer dec.Close()
	raw, err := dec.DecodeAll(l.Blob[off:off+length], nil)
	if err != nil {
		tb.Fatalf("TOC: %v", err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		tb.Fatalf("TOC: %v", err)
	}
	delete(doc, "tarSplitDigest")
	plain, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		tb.Fatal(err)
	}
	compressed := enc.EncodeAll(plain, nil)
	_ = enc.Close()

	footerAt := len(l.Blob) - 72
	blob := append([]byte(nil), l.Blob[:footerAt]...)
	newOff := len(blob) + 8
	var frame bytes.Buffer
	frame.Write([]byte{0x50, 0x2A, 0x4D, 0x18}) // skippable frame magic
	_ = binary.Write(&frame, binary.LittleEndian, uint32(len(compressed)))
	frame.Write(compressed)
	blob = append(blob, frame.Bytes()...)
	blob = append(blob, l.Blob[footerAt:]...)
	l.Blob = blob
	l.Digest = digest.FromBytes(blob)
	l.TOCDigest = digest.FromBytes(compressed)
	l.Annotations = map[string]string{
		annTOCDigest:   l.TOCDigest.String(),
		annTOCPosition: fmt.Sprintf("%d:%d:%d:1", newOff, len(compressed), len(plain)),
	}
	return l
}
