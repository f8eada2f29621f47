package testutil

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/require"
)

func smallTar(t *testing.T) []byte {
	return TarBytes(t, []Entry{
		{Header: &tar.Header{Typeflag: tar.TypeDir, Name: "d/", Mode: 0o755}},
		{Header: &tar.Header{Typeflag: tar.TypeReg, Name: "d/f", Mode: 0o644}, Data: bytes.Repeat([]byte("hello "), 1000)},
	})
}

func TestZstdChunkedDecompressesToInput(t *testing.T) {
	tarBytes := smallTar(t)
	l := ZstdChunked(t, tarBytes)
	require.Equal(t, digest.FromBytes(tarBytes), l.DiffID)
	require.Equal(t, digest.FromBytes(l.Blob), l.Digest)
	require.NotEmpty(t, l.TOCDigest)
	require.Contains(t, l.Annotations, "io.github.containers.zstd-chunked.manifest-position")
	d, err := zstd.NewReader(bytes.NewReader(l.Blob))
	require.NoError(t, err)
	defer d.Close()
	got, err := io.ReadAll(d)
	require.NoError(t, err)
	require.Equal(t, tarBytes, got, "zstd:chunked must decompress to the input tar (skippable frames aside)")
}

func TestEStargzAndPlainLayers(t *testing.T) {
	tarBytes := smallTar(t)
	e := EStargz(t, tarBytes, 0, []string{"d/f"})
	require.Equal(t, e.TOCDigest.String(), e.Annotations["containerd.io/snapshot/stargz/toc.digest"])
	require.NotEmpty(t, e.DiffID)
	for _, l := range []Layer{Gzip(t, tarBytes), Zstd(t, tarBytes)} {
		require.Equal(t, digest.FromBytes(tarBytes), l.DiffID)
		require.Empty(t, l.TOCDigest)
	}
}
