package apply

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// CopyVerified writes exactly size bytes of the source and hashes what it
// wrote; a source shorter than size is an error. DiscardFile then removes
// the unfinished file, so the entry can be created again.
func TestCopyVerifiedAndDiscard(t *testing.T) {
	requireRoot(t)
	dest := t.TempDir()
	r := mustOpen(t, dest, Options{})
	data := bytes.Repeat([]byte("0123456789abcdef"), 40000) // 640000 bytes: several buffers
	srcPath := filepath.Join(t.TempDir(), "src")
	require.NoError(t, os.WriteFile(srcPath, data, 0o644))
	src, err := os.Open(srcPath)
	require.NoError(t, err)
	defer src.Close()

	e := toc.Entry{Type: toc.TypeReg, Name: "dir/file", Mode: 0o644, Size: int64(len(data)), ModTime: t0}
	f, err := r.CreateFile(&e)
	require.NoError(t, err)
	h := sha256.New()
	_, err = CopyVerified(f, src, e.Size, h, make([]byte, 64<<10))
	require.NoError(t, err)
	want := sha256.Sum256(data)
	assert.Equal(t, want[:], h.Sum(nil))
	require.NoError(t, r.FinishFile(&e, f))
	got, err := os.ReadFile(filepath.Join(dest, "dir/file"))
	require.NoError(t, err)
	assert.Equal(t, data, got)

	// A source shorter than the entry says: an error, and the unfinished
	// file is discarded.
	short := toc.Entry{Type: toc.TypeReg, Name: "dir/short", Mode: 0o644, Size: int64(len(data)) + 1, ModTime: t0}
	f, err = r.CreateFile(&short)
	require.NoError(t, err)
	_, err = CopyVerified(f, src, short.Size, sha256.New(), nil)
	require.Error(t, err)
	require.NoError(t, r.DiscardFile(&short, f))
	assert.NoFileExists(t, filepath.Join(dest, "dir/short"))
	f, err = r.CreateFile(&short)
	require.NoError(t, err, "the name is free again")
	_ = f.Close()

	// DiscardFile removes nothing but the file it was given.
	other := toc.Entry{Type: toc.TypeReg, Name: "dir/other", Mode: 0o644, Size: 1, ModTime: t0}
	f, err = r.CreateFile(&other)
	require.NoError(t, err)
	require.NoError(t, os.Rename(filepath.Join(dest, "dir/other"), filepath.Join(dest, "dir/moved")))
	require.NoError(t, os.WriteFile(filepath.Join(dest, "dir/other"), []byte("x"), 0o644))
	require.Error(t, r.DiscardFile(&other, f))
	assert.FileExists(t, filepath.Join(dest, "dir/other"), "a file that replaced it stays")
}
