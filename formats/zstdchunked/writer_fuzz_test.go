package zstdchunked

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/chunkdiff/chunkdiff/internal/blob/seekable"
	"io"
	"math/rand"
	"reflect"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"go.podman.io/storage/pkg/chunked/compressor"
)

// fuzzTar turns fuzz input into a small tar: each entry takes a few bytes
// choosing its type, name (from a small pool, so duplicates happen) and,
// for files, content mixing literal bytes, generated random data and zero
// runs around the hole threshold. Input starting with 0xff is used as a
// raw tar stream instead.
func fuzzTar(data []byte) []byte {
	if len(data) > 0 && data[0] == 0xff {
		return data[1:]
	}
	names := []string{"a", "b", "d/", "d/f", "./a", "d/g", "long/" + string(bytes.Repeat([]byte{'n'}, 120)), "ü/ß", "x<&>"}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	for n := 0; len(data) > 0 && n < 16; n++ {
		op, nb := next(), next()
		name := names[int(nb)%len(names)]
		h := &tar.Header{Name: name, Mode: 0o644, ModTime: testutilEpoch}
		var content []byte
		switch op % 6 {
		case 0:
			h.Typeflag = tar.TypeDir
		case 1:
			h.Typeflag, h.Linkname = tar.TypeSymlink, names[int(next())%len(names)]
		case 2:
			h.Typeflag, h.Linkname = tar.TypeLink, names[int(next())%len(names)]
		case 3:
			h.Typeflag = tar.TypeFifo
		case 4: // literal content
			h.Typeflag = tar.TypeReg
			k := min(int(next()), len(data))
			content = append([]byte(nil), data[:k]...)
			data = data[k:]
		default: // generated: random runs and zero runs
			h.Typeflag = tar.TypeReg
			rng := rand.New(rand.NewSource(int64(next())))
			for range int(next()%8) + 1 {
				r := make([]byte, rng.Intn(200_000))
				rng.Read(r)
				content = append(content, r...)
				z := []int{0, 1, holeThreshold - 1, holeThreshold, holeThreshold + 1, 70_000}[rng.Intn(6)]
				content = append(content, make([]byte, z)...)
			}
		}
		if op&0x80 != 0 {
			h.PAXRecords = map[string]string{"SCHILY.xattr.user.k": string(data[:min(len(data), 5)])}
		}
		h.Size = int64(len(content))
		if err := tw.WriteHeader(h); err != nil {
			continue
		}
		_, _ = tw.Write(content)
	}
	_ = tw.Close()
	return buf.Bytes()
}

var testutilEpoch = testutil.RichTree(1)[0].Header.ModTime

// FuzzWriterRoundTrip: whatever tar we accept decompresses to itself,
// loads with our reader, and is chunked exactly like upstream; what
// upstream refuses we refuse too.
func FuzzWriterRoundTrip(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{5, 0, 1, 2, 5, 1, 7, 3})
	f.Add([]byte{4, 0, 10, 'h', 'e', 'l', 'l', 'o', 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 0, 3})
	f.Add([]byte{0, 2, 5, 3, 9, 4, 133, 0, 5, 1, 2, 3, 4, 5})
	f.Add([]byte{4, 0, 1, 'x', 4, 4, 1, 'y'}) // duplicate via "./a"
	f.Add(append([]byte{0xff}, testutil.TarBytes(f, testutil.RichTree(1)[:6])...))
	f.Fuzz(func(t *testing.T, data []byte) {
		tarBytes := fuzzTar(data)
		var buf bytes.Buffer
		res, err := Compress(&buf, bytes.NewReader(tarBytes), WithLevel(1))
		upBlob, upAnn, upErr := upstreamLevel1(tarBytes)
		if err != nil {
			var ue *UnsupportedEntryError
			if upErr == nil && !errors.As(err, &ue) {
				t.Fatalf("we refuse what upstream accepts: %v", err)
			}
			return
		}
		blob := buf.Bytes()
		if got := zstdDecodeF(blob); !bytes.Equal(got, tarBytes) {
			t.Fatalf("blob decompresses to %d bytes, input %d", len(got), len(tarBytes))
		}
		m, err := Load(context.Background(), seekable.From(testutil.NewSource(blob)), int64(len(blob)), res.Annotations, Options{TempDir: t.TempDir()})
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		defer m.Close()
		if m.UncompressedTarSize != int64(len(tarBytes)) || m.Counts.Entries != res.Entries {
			t.Fatalf("Load: tar size %d entries %d; want %d, %d", m.UncompressedTarSize, m.Counts.Entries, len(tarBytes), res.Entries)
		}
		if upErr != nil {
			t.Fatalf("upstream refuses what we accept: %v", upErr)
		}
		a, err := ParseAnnotations(upAnn)
		if err != nil {
			t.Fatal(err)
		}
		up := decodeWTOC(t, zstdDecodeF(blobBytes(upBlob, a.TOC)))
		ours := decodeWTOC(t, zstdDecodeF(blobBytes(blob, res.Annotations.TOC)))
		if !reflect.DeepEqual(withoutOffsets(up), withoutOffsets(ours)) {
			t.Fatalf("TOC differs from upstream's beyond offsets:\nupstream %+v\nours     %+v", withoutOffsets(up), withoutOffsets(ours))
		}
	})
}

func upstreamLevel1(tarBytes []byte) ([]byte, map[string]string, error) {
	var buf bytes.Buffer
	ann := map[string]string{}
	level := 1
	w, err := compressor.ZstdCompressor(&buf, ann, &level)
	if err != nil {
		return nil, nil, err
	}
	_, werr := io.Copy(w, bytes.NewReader(tarBytes))
	if err := errors.Join(werr, w.Close()); err != nil {
		return nil, nil, fmt.Errorf("upstream: %w", err)
	}
	return buf.Bytes(), ann, nil
}
