package differ_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chunkdiff/chunkdiff/differ"
	dcontext "github.com/chunkdiff/chunkdiff/differ/context"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A failed ApplyDiff removes what it created in dest and nothing else: a
// file that was there before survives (the contract ApplyDiff documents).
func TestFailedApplyKeepsWhatDestHeld(t *testing.T) {
	l := testutil.ZstdChunked(t, testutil.TarBytes(t, testutil.RichTree(4)))
	// Metadata loads from call 1; every file content fetched later is corrupt.
	src := testutil.NewSource(l.Blob, testutil.FromCall(2, testutil.CorruptStreams(-1)))
	dest := t.TempDir()
	mine := filepath.Join(dest, "mine.txt")
	require.NoError(t, os.WriteFile(mine, []byte("keep me"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dest, "mydir"), 0o755))

	d, err := differ.Open(t.Context(), dcontext.PullOptions{EnablePartialImages: true}, l.Digest, l.Size(), l.Annotations, src)
	require.NoError(t, err)
	defer func() { _ = d.Close() }()
	_, err = d.ApplyDiff(dest, nil, nil)
	require.Error(t, err, "corrupt contents must fail the apply")

	got, err := os.ReadFile(mine)
	require.NoError(t, err, "the user's file must survive")
	assert.Equal(t, "keep me", string(got))
	left, err := os.ReadDir(dest)
	require.NoError(t, err)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"mine.txt", "mydir"}, names, "only what was there before is left")
}
