package differ

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/index"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The first partial pull into a store filled by ordinary pulls reuses their
// files without hashing those layers up front: they are looked up by the
// paths the TOC asks for, and nothing is written to the index for them.
func TestFirstPullOverOrdinaryLayers(t *testing.T) {
	p := getPair(t)
	store := testutil.NewOverlayStore(t, partial)
	base := testutil.PutLayer(t, store, testutil.Gzip(t, p.baseTar).Blob, "")

	upd, out, dump := pullOurs(t, store, p.upd, base.ID)
	assert.Equal(t, digest.FromBytes(p.updTar), out.UncompressedDigest)
	require.NotNil(t, dump.Index)
	assert.Equal(t, 1, dump.Index.ByPath)
	assert.Zero(t, dump.Index.Built, "the ordinary layer was not read up front")
	_, err := os.Stat(filepath.Join(store.GraphRoot(), index.DirName, base.ID+".cdx"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	a := dump.Apply
	require.NotNil(t, a)
	assert.Positive(t, a.Reuse.FilesCopied, "unchanged files come from the ordinary layer")
	assert.Less(t, a.BytesFetched, p.upd.Size()/2)

	plain := testutil.NewOverlayStore(t, nil)
	pb := testutil.PutLayer(t, plain, p.baseTar, "")
	pu := testutil.PutLayer(t, plain, p.updTar, pb.ID)
	assert.Empty(t, testutil.Diff(
		testutil.Snapshot(t, testutil.LayerDir(t, plain, pu.ID)),
		testutil.Snapshot(t, testutil.LayerDir(t, store, upd.ID))))
}

// changeOrdinaryFiles flips a byte in the middle of every third non-empty
// regular file of an ordinary layer's directory (same size, other content:
// what an index by path cannot tell from the real thing) and returns, for
// the update's files, how many the by-path lookup will offer that are
// still right (to be copied) and changed (to be rejected and fetched).
func changeOrdinaryFiles(t *testing.T, dir string, upd []testutil.Entry) (good, bad int) {
	t.Helper()
	var n int
	require.NoError(t, filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() || info.Size() < 2 {
			return err
		}
		n++
		if n%3 != 0 {
			return nil
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, info.Size()/2); err != nil {
			return err
		}
		_, err = f.WriteAt([]byte{^b[0]}, info.Size()/2)
		return err
	}))
	for _, e := range upd {
		if e.Header.Typeflag != tar.TypeReg || len(e.Data) == 0 {
			continue
		}
		have, err := os.ReadFile(filepath.Join(dir, e.Header.Name))
		if err != nil || len(have) != len(e.Data) {
			continue // no candidate at that path
		}
		if bytes.Equal(have, e.Data) {
			good++
		} else {
			bad++
		}
	}
	require.Positive(t, good)
	require.Positive(t, bad)
	return good, bad
}

// Candidates are verified while they are copied: one whose bytes changed
// after the ordinary layer was put (same size, so the by-path lookup offers
// it) is copied, fails its digest on the way in, is removed, and its file
// fetched from the blob after the main fetch. The layer is an ordinary
// pull's, and every good candidate is still reused.
func TestFirstPullRejectsChangedCandidate(t *testing.T) {
	p := getPair(t)
	store := testutil.NewOverlayStore(t, partial)
	base := testutil.PutLayer(t, store, testutil.Gzip(t, p.baseTar).Blob, "")
	good, bad := changeOrdinaryFiles(t, testutil.LayerDir(t, store, base.ID), p.updEntries)

	upd, out, dump := pullOurs(t, store, p.upd, base.ID)
	assert.Equal(t, digest.FromBytes(p.updTar), out.UncompressedDigest)
	a := dump.Apply
	require.NotNil(t, a)
	assert.Equal(t, good, a.Reuse.FilesCopied, "every good candidate is copied")
	assert.Equal(t, bad, a.Reuse.Rejected, "every changed candidate is rejected")
	assert.GreaterOrEqual(t, a.FilesFetched, bad, "and its file fetched")

	plain := testutil.NewOverlayStore(t, nil)
	pb := testutil.PutLayer(t, plain, p.baseTar, "")
	pu := testutil.PutLayer(t, plain, p.updTar, pb.ID)
	assert.Empty(t, testutil.Diff(
		testutil.Snapshot(t, testutil.LayerDir(t, plain, pu.ID)),
		testutil.Snapshot(t, testutil.LayerDir(t, store, upd.ID))), "nothing of a rejected copy is left")
}

// When fetching the rejected candidates' files fails, ApplyDiff fails and
// leaves nothing in dest: no verified copy, no rejected one.
func TestFirstPullRejectedFetchFailsCleanly(t *testing.T) {
	p := getPair(t)
	store := testutil.NewOverlayStore(t, partial)
	base := testutil.PutLayer(t, store, testutil.Gzip(t, p.baseTar).Blob, "")
	changeOrdinaryFiles(t, testutil.LayerDir(t, store, base.ID), p.updEntries)

	apply := func(src *testutil.Source) (string, Dump, error) {
		d, err := OpenWithStore(t.Context(), store, p.upd.Digest, p.upd.Size(), p.upd.Annotations, src)
		require.NoError(t, err)
		defer d.Close()
		dest := t.TempDir()
		_, err = d.ApplyDiff(dest, nil, nil)
		return dest, d.Dump(), err
	}
	// The same pull succeeds, and rejects candidates: its last call is the
	// fetch of their files, after the main fetch.
	ok := testutil.NewSource(p.upd.Blob)
	_, dump, err := apply(ok)
	require.NoError(t, err)
	require.Positive(t, dump.Apply.Reuse.Rejected)
	calls := ok.Calls()

	boom := errors.New("the registry went away")
	dest, _, err := apply(testutil.NewSource(p.upd.Blob, testutil.FromCall(calls, testutil.FailWith(boom))))
	require.ErrorIs(t, err, boom)
	left, err := os.ReadDir(dest)
	require.NoError(t, err)
	assert.Empty(t, left, "nothing half-written is left")
}
