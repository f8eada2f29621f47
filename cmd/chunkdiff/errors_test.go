package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failsCleanly runs apply --dest into a new directory and checks the
// failure: exit code, one error line starting with want, no summary, and
// nothing left behind.
func failsCleanly(t *testing.T, code int, want string, args ...string) result {
	t.Helper()
	parent := t.TempDir()
	r := runBin(t, nil, append(args, "--dest", filepath.Join(parent, "tree"))...)
	assert.Equal(t, code, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stderr, "chunkdiff: "+want), "stderr: %s", r.stderr)
	assert.Equal(t, 1, strings.Count(r.stderr, "chunkdiff:"), "the error is printed once: %s", r.stderr)
	assert.Empty(t, r.stdout)
	assert.Equal(t, map[string]string{".": listing(t, parent)["."]}, listing(t, parent), "nothing left behind")
	return r
}

func TestErrorsNameTheInput(t *testing.T) {
	blob, l := bigLayer(t)
	dir := t.TempDir()

	t.Run("missing blob", func(t *testing.T) {
		missing := filepath.Join(dir, "missing.tar.zst")
		failsCleanly(t, exitFailed, "layer blob "+missing+": no such file", "apply", missing)
	})
	t.Run("blob is a directory", func(t *testing.T) {
		failsCleanly(t, exitFailed, "layer blob "+dir+" is a directory", "apply", dir)
	})
	t.Run("not a layer", func(t *testing.T) {
		passwd := filepath.Join(dir, "passwd")
		require.NoError(t, os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644))
		failsCleanly(t, exitFailed, passwd+" is not a zstd:chunked or eStargz layer (it is not gzip or zstd data, no annotations file at "+passwd+".annotations.json)", "apply", passwd)
	})
	t.Run("gzip without a TOC", func(t *testing.T) {
		gz := writeLayer(t, testutil.Gzip(t, testutil.TarBytes(t, testutil.RichTree(2))), "plain")
		failsCleanly(t, exitFailed, gz+" is not a zstd:chunked or eStargz layer (it is gzip-compressed, no TOC annotation in ", "apply", gz)
	})
	t.Run("zstd without annotations", func(t *testing.T) {
		lone := filepath.Join(dir, "lone.tar.zst")
		require.NoError(t, os.WriteFile(lone, l.Blob, 0o644))
		failsCleanly(t, exitFailed, lone+" is zstd-compressed but its annotations are not at "+filepath.Join(dir, "lone.annotations.json"), "apply", lone)
	})
	t.Run("missing --annotations", func(t *testing.T) {
		failsCleanly(t, exitUsage, "--annotations /nonexistent.json: no such file", "apply", blob, "--annotations", "/nonexistent.json")
	})
	t.Run("truncated blob", func(t *testing.T) {
		short := l
		short.Blob = l.Blob[:len(l.Blob)/2]
		p := writeLayer(t, short, "short")
		r := failsCleanly(t, exitFailed, p+": ", "apply", p)
		assert.Contains(t, r.stderr, "(is the blob truncated or damaged, or are the annotations in "+strings.TrimSuffix(p, ".tar.zst")+".annotations.json those of another blob?)")
	})
	t.Run("annotations of another blob", func(t *testing.T) {
		other := testutil.ZstdChunked(t, testutil.TarBytes(t, testutil.RichTree(3)))
		raw, err := json.Marshal(other.Annotations)
		require.NoError(t, err)
		ann := filepath.Join(dir, "other.json")
		require.NoError(t, os.WriteFile(ann, raw, 0o644))
		r := failsCleanly(t, exitFailed, blob+": ", "apply", blob, "--annotations", ann)
		assert.Contains(t, r.stderr, "are the annotations in "+ann+" those of another blob?")
	})
	t.Run("damaged contents", func(t *testing.T) {
		p := writeLayer(t, corruptContent(t, l), "damaged")
		r := failsCleanly(t, exitFailed, p+": ", "apply", p)
		assert.Contains(t, r.stderr, "(the blob's contents do not match its table of contents: is the blob damaged")
	})
	t.Run("wrong operands", func(t *testing.T) {
		failsCleanly(t, exitUsage, "apply takes 1 operand (BLOB), got 2 operands", "apply", blob, blob)
	})
}

// --parent is checked before anything is fetched, and the store is left as
// it was.
func TestApplyUnknownParent(t *testing.T) {
	testutil.RequireOverlay(t)
	blob, _ := bigLayer(t)
	root, err := os.MkdirTemp("", "chunkdiff-cli-store-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	base := writeLayer(t, testutil.ZstdChunked(t, testutil.TarBytes(t, testutil.RichTree(2))), "base")
	require.Equal(t, 0, runBin(t, nil, "apply", base, "--store", root).code)
	before := storeListing(t, root)

	r := runBin(t, nil, "apply", blob, "--store", root, "--parent", "deadbeef", "--progress")
	assert.Equal(t, exitUsage, r.code, r.stderr)
	assert.Equal(t, "chunkdiff: --parent deadbeef: no such layer in the store at "+root+"\n", r.stderr, "no progress: nothing was read")
	assert.Empty(t, r.stdout)
	assert.Equal(t, before, storeListing(t, root))

	// In a store that does not exist yet, the store is not created either.
	fresh := filepath.Join(t.TempDir(), "store")
	r = runBin(t, nil, "apply", blob, "--store", fresh, "--parent", "deadbeef")
	assert.Equal(t, exitUsage, r.code, r.stderr)
	_, err = os.Stat(fresh)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// Without root, --store and demo say root is needed instead of failing on
// a mount.
func TestNonRootIsToldRootIsNeeded(t *testing.T) {
	testutil.RequireOverlay(t) // root, to run the binary as another user
	bin := binary(t)
	require.NoError(t, os.Chmod(filepath.Dir(bin), 0o755))
	store := filepath.Join(t.TempDir(), "store")
	for _, tc := range []struct {
		args []string
		what string
	}{
		{[]string{"apply", "layer.tar.zst", "--store", store}, "--store"},
		{[]string{"demo"}, "demo (it pulls into an overlay store)"},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		require.Error(t, err)
		assert.Equal(t, exitFailed, cmd.ProcessState.ExitCode())
		assert.Equal(t, "chunkdiff: "+tc.what+" needs root: the overlay driver mounts filesystems and sets file owners; run chunkdiff as root\n", string(out))
	}
	_, err := os.Stat(store)
	assert.ErrorIs(t, err, os.ErrNotExist)

	// --dest works as any user until a file must be given to root.
	dir, err := os.MkdirTemp("", "chunkdiff-cli-nobody-") // t.TempDir's parent is closed to others
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o777))
	l := testutil.ZstdChunked(t, testutil.TarBytes(t, testutil.RichTree(2)))
	blob := filepath.Join(dir, "layer.tar.zst")
	require.NoError(t, os.WriteFile(blob, l.Blob, 0o644))
	raw, err := json.Marshal(l.Annotations)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "layer.annotations.json"), raw, 0o644))
	dest := filepath.Join(dir, "tree")
	cmd := exec.Command(bin, "apply", blob, "--dest", dest)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Equal(t, exitFailed, cmd.ProcessState.ExitCode())
	assert.Contains(t, string(out), "(applying a layer sets its files' owners, which needs root: run as root)")
	_, err = os.Stat(dest)
	assert.ErrorIs(t, err, os.ErrNotExist, "the tree it began is removed")
}

func TestConvertErrors(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "layer.tar")
	require.NoError(t, os.WriteFile(in, testutil.TarBytes(t, testutil.RichTree(2)), 0o644))

	missingDir := filepath.Join(dir, "nodir")
	r := runBin(t, nil, "convert", in, filepath.Join(missingDir, "out.tar.zst"))
	assert.Equal(t, exitUsage, r.code)
	assert.Equal(t, "chunkdiff: cannot write "+filepath.Join(missingDir, "out.tar.zst")+": directory "+missingDir+" does not exist\n", r.stderr)

	r = runBin(t, nil, "convert", in, filepath.Join(dir, "out.tar.zst"), "--annotations", filepath.Join(missingDir, "a.json"))
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "directory "+missingDir+" does not exist")

	missing := filepath.Join(dir, "missing.tar")
	r = runBin(t, nil, "convert", missing, filepath.Join(dir, "out.tar.zst"))
	assert.Equal(t, exitFailed, r.code)
	assert.Equal(t, "chunkdiff: layer blob "+missing+": no such file\n", r.stderr)

	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, left, 1, "nothing written")
}

// An eStargz blob without its annotations is recognised by its footer.
func TestEStargzWithoutAnnotations(t *testing.T) {
	l := testutil.EStargz(t, testutil.TarBytes(t, testutil.RichTree(2)), 0, nil)
	blob := filepath.Join(t.TempDir(), "layer.tar.gz")
	require.NoError(t, os.WriteFile(blob, l.Blob, 0o644))
	failsCleanly(t, exitFailed, blob+" is an eStargz layer but its annotations are not at "+
		strings.TrimSuffix(blob, ".tar.gz")+".annotations.json", "apply", blob)
}
