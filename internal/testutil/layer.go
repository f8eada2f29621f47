package testutil

import (
	"bytes"
	"compress/gzip"
	"io"
	"maps"
	"sync"
	"testing"

	"github.com/containerd/stargz-snapshotter/estargz"
	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/storage/pkg/chunked/compressor"
	"go.podman.io/storage/pkg/chunked/toc"
)

// Layer is a compressed layer blob plus what a manifest and image config
// would say about it.
type Layer struct {
	Blob        []byte
	Annotations map[string]string // layer annotations (TOC digest, positions)
	Digest      digest.Digest     // digest of Blob
	DiffID      digest.Digest     // digest of the uncompressed tar
	TOCDigest   digest.Digest     // "" for formats without a TOC
}

// Size returns the blob size, as NewDiffer wants it.
func (l Layer) Size() int64 { return int64(len(l.Blob)) }

// zstdChunkedCache memoises ZstdChunked by input digest: level-10
// compression of RichTree is slow under -race and many tests share trees.
var zstdChunkedCache sync.Map // digest.Digest -> Layer

// ZstdChunked compresses tarBytes with upstream's real zstd:chunked writer
// (default level), so the blob is exactly what podman would push. Results
// are cached per process; every call returns its own copy.
func ZstdChunked(tb testing.TB, tarBytes []byte) Layer {
	tb.Helper()
	key := digest.FromBytes(tarBytes)
	if l, ok := zstdChunkedCache.Load(key); ok {
		return l.(Layer).clone()
	}
	l := zstdChunked(tb, tarBytes)
	zstdChunkedCache.Store(key, l)
	return l.clone()
}

func (l Layer) clone() Layer {
	l.Blob = bytes.Clone(l.Blob)
	l.Annotations = maps.Clone(l.Annotations)
	return l
}

func zstdChunked(tb testing.TB, tarBytes []byte) Layer {
	var buf bytes.Buffer
	ann := map[string]string{}
	w, err := compressor.ZstdCompressor(&buf, ann, nil)
	if err != nil {
		tb.Fatalf("zstd:chunked writer: %v", err)
	}
	if _, err := w.Write(tarBytes); err != nil {
		tb.Fatalf("zstd:chunked write: %v", err)
	}
	// The annotations are only filled in by Close.
	if err := w.Close(); err != nil {
		tb.Fatalf("zstd:chunked close: %v", err)
	}
	d, err := toc.GetTOCDigest(ann)
	if err != nil || d == nil {
		tb.Fatalf("zstd:chunked TOC digest from %v: %v", ann, err)
	}
	return Layer{
		Blob:        buf.Bytes(),
		Annotations: ann,
		Digest:      digest.FromBytes(buf.Bytes()),
		DiffID:      digest.FromBytes(tarBytes),
		TOCDigest:   *d,
	}
}

// EStargz builds an eStargz blob with containerd's estargz package.
// chunkSize 0 means the library default. Note that eStargz rewrites the tar
// (landmark files, TOC entry), so DiffID is the digest of that rewritten tar,
// not of tarBytes.
func EStargz(tb testing.TB, tarBytes []byte, chunkSize int, prioritized []string) Layer {
	tb.Helper()
	opts := []estargz.Option{estargz.WithPrioritizedFiles(prioritized)}
	if chunkSize > 0 {
		opts = append(opts, estargz.WithChunkSize(chunkSize))
	}
	b, err := estargz.Build(io.NewSectionReader(bytes.NewReader(tarBytes), 0, int64(len(tarBytes))), opts...)
	if err != nil {
		tb.Fatalf("estargz build: %v", err)
	}
	defer b.Close()
	blob, err := io.ReadAll(b)
	if err != nil {
		tb.Fatalf("estargz read: %v", err)
	}
	return Layer{
		Blob:        blob,
		Annotations: map[string]string{estargz.TOCJSONDigestAnnotation: b.TOCDigest().String()},
		Digest:      digest.FromBytes(blob),
		DiffID:      b.DiffID(),
		TOCDigest:   b.TOCDigest(),
	}
}

// Gzip compresses tarBytes as an ordinary gzip layer.
func Gzip(tb testing.TB, tarBytes []byte) Layer {
	tb.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(tarBytes); err != nil {
		tb.Fatalf("gzip: %v", err)
	}
	if err := w.Close(); err != nil {
		tb.Fatalf("gzip: %v", err)
	}
	return plainLayer(buf.Bytes(), tarBytes)
}

// Zstd compresses tarBytes as an ordinary (non-chunked) zstd layer.
func Zstd(tb testing.TB, tarBytes []byte) Layer {
	tb.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		tb.Fatalf("zstd: %v", err)
	}
	defer enc.Close()
	return plainLayer(enc.EncodeAll(tarBytes, nil), tarBytes)
}

func plainLayer(blob, tarBytes []byte) Layer {
	return Layer{
		Blob:        blob,
		Annotations: map[string]string{},
		Digest:      digest.FromBytes(blob),
		DiffID:      digest.FromBytes(tarBytes),
	}
}
