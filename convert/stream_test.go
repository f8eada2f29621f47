package convert

import (
	"errors"
	"os"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/blobstream"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Source contract violations around the one whole-blob stream fail the
// conversion, and leave nothing behind (no file handed over).
func TestFetchAndConvertSourceContract(t *testing.T) {
	_, blobs := layers(t)
	gz := blobs[Gzip]
	boom := errors.New("registry hiccup")
	for _, tc := range []struct {
		name   string
		opts   []testutil.SourceOption
		target error
	}{
		{"no stream", []testutil.SourceOption{testutil.StreamLimit(0)}, blobstream.ErrTooFewStreams},
		{"error before the stream", []testutil.SourceOption{testutil.ErrorAfter(0, boom)}, boom},
		{"error after the stream", []testutil.SourceOption{testutil.ErrorAfter(1, boom)}, boom},
		{"surplus stream", []testutil.SourceOption{testutil.ExtraStreams(1)}, blobstream.ErrTooManyStreams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			res, err := FetchAndConvert(t.Context(), testutil.NewSource(gz.Blob, tc.opts...), int64(len(gz.Blob)), gz.Digest, dir)
			require.ErrorIs(t, err, tc.target)
			assert.Contains(t, err.Error(), "convert: fetching the blob")
			assert.Nil(t, res)
			left, rerr := os.ReadDir(dir)
			require.NoError(t, rerr)
			assert.Empty(t, left, "nothing left behind")
		})
	}
}
