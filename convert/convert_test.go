package convert

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/chunkdiff/chunkdiff/formats/zstdchunked"
	"github.com/chunkdiff/chunkdiff/internal/blob/seekable"
	"github.com/chunkdiff/chunkdiff/internal/source"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func layers(t *testing.T) (tarBytes []byte, blobs map[Compression]testutil.Layer) {
	tarBytes = testutil.TarBytes(t, testutil.RichTree(8))
	return tarBytes, map[Compression]testutil.Layer{
		Gzip:         testutil.Gzip(t, tarBytes),
		Zstd:         testutil.Zstd(t, tarBytes),
		Uncompressed: {Blob: tarBytes, Digest: digest.FromBytes(tarBytes)},
	}
}

func TestFetchAndConvertEveryCompression(t *testing.T) {
	tarBytes, blobs := layers(t)
	for comp, l := range blobs {
		t.Run(string(comp), func(t *testing.T) {
			dir := t.TempDir()
			src := testutil.NewSource(l.Blob)
			res, err := FetchAndConvert(t.Context(), src, int64(len(l.Blob)), l.Digest, dir)
			require.NoError(t, err)
			defer res.Close()
			assert.Equal(t, comp, res.Compression)
			assert.Equal(t, l.Digest, res.CompressedDigest)
			assert.Equal(t, digest.FromBytes(tarBytes), res.DiffID)
			assert.Equal(t, int64(len(tarBytes)), res.TarSize)
			assert.Len(t, src.Requests(), 1, "one whole-blob request")
			left, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, left, "the converted file is unlinked")

			// The uncompressed variant starts with the tar itself and its
			// metadata loads with the raw reader.
			head := make([]byte, len(tarBytes))
			_, err = res.File.ReadAt(head, 0)
			require.NoError(t, err)
			assert.Equal(t, tarBytes, head)
			meta, err := zstdchunked.Load(t.Context(), seekable.From(source.NewReaderAt(res.File, res.Size)), res.Size, res.Annotations,
				zstdchunked.Options{TempDir: t.TempDir(), Uncompressed: true})
			require.NoError(t, err)
			defer meta.Close()
			assert.True(t, meta.HasTarSplit())
			assert.Equal(t, int64(len(tarBytes)), meta.UncompressedTarSize)
		})
	}
}

func TestFetchAndConvertRejects(t *testing.T) {
	tarBytes, blobs := layers(t)
	gz := blobs[Gzip]
	corrupt := bytes.Clone(gz.Blob)
	corrupt[len(corrupt)/2] ^= 0xff
	tests := []struct {
		name   string
		blob   []byte
		digest digest.Digest
		size   int64
		opts   []testutil.SourceOption
		want   string
		target any
	}{
		{name: "corrupt gzip", blob: corrupt, digest: digest.FromBytes(corrupt), size: int64(len(corrupt)), want: "gzip"},
		{name: "blob is not the announced one", blob: gz.Blob, digest: digest.FromString("other"), size: int64(len(gz.Blob)), want: "digest", target: &DigestMismatchError{}},
		{name: "truncated download", blob: gz.Blob, digest: gz.Digest, size: int64(len(gz.Blob)), opts: []testutil.SourceOption{testutil.TruncateStreams(0, 1000)}, want: "convert"},
		{name: "source error", blob: gz.Blob, digest: gz.Digest, size: int64(len(gz.Blob)), opts: []testutil.SourceOption{testutil.FailWith(errors.New("registry down"))}, want: "registry down"},
		{name: "not a tar", blob: []byte("definitely not a layer, but long enough to look at its header............................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................"), want: "convert"},
		{name: "wrong size", blob: tarBytes, digest: digest.FromBytes(tarBytes), size: int64(len(tarBytes)) - 1, want: "digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dg := tt.digest
			if dg == "" {
				dg = digest.FromBytes(tt.blob)
			}
			size := tt.size
			if size == 0 {
				size = int64(len(tt.blob))
			}
			dir := t.TempDir()
			res, err := FetchAndConvert(t.Context(), testutil.NewSource(tt.blob, tt.opts...), size, dg, dir)
			require.Error(t, err)
			assert.Nil(t, res)
			assert.Contains(t, err.Error(), tt.want)
			if tt.target != nil {
				var dm *DigestMismatchError
				assert.ErrorAs(t, err, &dm)
			}
			left, rerr := os.ReadDir(dir)
			require.NoError(t, rerr)
			assert.Empty(t, left, "nothing left behind")
		})
	}
}

func TestPublishProducesAPullableBlob(t *testing.T) {
	tarBytes, blobs := layers(t)
	var out bytes.Buffer
	res, comp, err := Publish(&out, bytes.NewReader(blobs[Gzip].Blob))
	require.NoError(t, err)
	assert.Equal(t, Gzip, comp)
	assert.Equal(t, digest.FromBytes(tarBytes), res.DiffID)
	dec, err := zstd.NewReader(bytes.NewReader(out.Bytes()))
	require.NoError(t, err)
	plain, err := io.ReadAll(dec)
	require.NoError(t, err)
	assert.Equal(t, tarBytes, plain, "a plain zstd decoder sees the original tar")
	ann := res.Annotations.Map()
	assert.Contains(t, ann, "io.github.containers.zstd-chunked.manifest-checksum")
}
