package layerfile_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"testing"

	"github.com/chunkdiff/chunkdiff/layerfile"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.podman.io/storage/pkg/chunked"
)

func writeBlob(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "blob")
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

func TestServesRangesAndCounts(t *testing.T) {
	b := []byte("0123456789abcdef")
	f, err := layerfile.Open(t.Context(), writeBlob(t, b))
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, int64(len(b)), f.Size())
	dg, err := f.Digest()
	require.NoError(t, err)
	assert.Equal(t, digest.FromBytes(b), dg)

	streams, errs, err := f.GetBlobAt([]chunked.ImageSourceChunk{{Offset: 2, Length: 3}, {Offset: 10, Length: 2}})
	require.NoError(t, err)
	var got []string
	for s := range streams {
		data, err := io.ReadAll(s)
		require.NoError(t, err)
		got = append(got, string(data))
		s.Close()
	}
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"234", "ab"}, got)
	assert.Equal(t, layerfile.Stats{Requests: 1, Ranges: 2, Bytes: 5}, f.Stats(), "Digest's reads are not counted")
}

// Once the context is done, requests and reads in flight fail with its
// error: that is how a pull through a differ is cancelled.
func TestContextCancelsReads(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	f, err := layerfile.Open(ctx, writeBlob(t, make([]byte, 1<<20)))
	require.NoError(t, err)
	defer f.Close()
	streams, errs, err := f.GetBlobAt([]chunked.ImageSourceChunk{{Offset: 0, Length: 1 << 20}})
	require.NoError(t, err)
	s := <-streams
	buf := make([]byte, 10)
	_, err = s.Read(buf)
	require.NoError(t, err)
	cancel()
	_, err = io.ReadAll(s)
	assert.ErrorIs(t, err, context.Canceled)
	s.Close()
	for range streams {
	}
	for range errs {
	}
	_, _, err = f.GetBlobAt([]chunked.ImageSourceChunk{{Offset: 0, Length: 1}})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestOpenErrors(t *testing.T) {
	_, err := layerfile.Open(t.Context(), filepath.Join(t.TempDir(), "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = layerfile.Open(t.Context(), t.TempDir())
	assert.ErrorContains(t, err, "not a regular file")
	_, err = layerfile.ReadAnnotations(writeBlob(t, []byte(`["not", "an object"]`)))
	assert.ErrorContains(t, err, "want a JSON object of strings")
}

func ExampleOpen() {
	f, err := layerfile.Open(context.Background(), "../testdata/demo/base.tar.zst")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	dg, err := f.Digest()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Size(), dg)
	// Output: 1433016 sha256:e90c9f28d72c71a9c8adbe3c413ca25955ecda105209ecf89ec888745e8731eb
}
