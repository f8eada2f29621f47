package layer

import (
	"archive/tar"
	"bytes"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func reg(name string, data []byte) testutil.Entry {
	return testutil.Entry{Header: &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, ModTime: time.Unix(1700000000, 0)}, Data: data}
}

func TestEntriesTarRoundTrip(t *testing.T) {
	in := []testutil.Entry{
		{Header: &tar.Header{Typeflag: tar.TypeDir, Name: "d/", Mode: 0o755, ModTime: time.Unix(1700000000, 5)}},
		reg("d/a", []byte("hello")),
		{Header: &tar.Header{Typeflag: tar.TypeSymlink, Name: "d/l", Linkname: "a", ModTime: time.Unix(1700000000, 0)}},
		{Header: &tar.Header{Typeflag: tar.TypeLink, Name: "d/h", Linkname: "d/a", ModTime: time.Unix(1700000000, 0)}},
		reg("d/empty", nil),
	}
	var buf bytes.Buffer
	c, err := EntriesTar(in)(&buf)
	require.NoError(t, err)
	assert.Equal(t, Counts{Entries: 5, Files: 2, Dirs: 1, Symlinks: 1, Hardlinks: 1, FileBytes: 5}, c)

	out, err := readTar(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	require.Len(t, out, len(in))
	for i := range in {
		assert.Equal(t, in[i].Header.Name, out[i].Header.Name)
		assert.Equal(t, in[i].Header.Typeflag, out[i].Header.Typeflag)
		assert.Equal(t, len(in[i].Data), len(out[i].Data))
	}
	assert.Equal(t, []byte("hello"), out[1].Data)
	assert.True(t, out[0].Header.ModTime.Equal(time.Unix(1700000000, 0)), "whole seconds")

	var again bytes.Buffer
	_, err = EntriesTar(out)(&again)
	require.NoError(t, err)
	assert.Equal(t, buf.Bytes(), again.Bytes(), "reading and rewriting is stable")
}

func TestCompareUpdate(t *testing.T) {
	big := bytes.Repeat([]byte{1}, bigFile)
	base := []testutil.Entry{reg("big1", big), reg("big2", big), reg("s1", []byte("a")), reg("s2", []byte("b")), reg("gone", []byte("c"))}
	upd := []testutil.Entry{reg("big1", append(bytes.Clone(big), 9)), reg("big2", big), reg("s1", []byte("a2")), reg("s2", []byte("b")), reg("new", []byte("1234"))}
	s := CompareUpdate(base, upd)
	assert.Equal(t, UpdateStats{
		BigFiles: 2, BigEdited: 1, BigBytes: 2 * bigFile, BigEditedB: bigFile,
		SmallFiles: 3, SmallEdited: 1, Unchanged: 2, Added: 1, Removed: 1, AddedBytes: 4,
	}, s)
	assert.Contains(t, s.String(), "1 of 2 big files")
}

func TestSpecName(t *testing.T) {
	s := Spec{Kind: "synthetic", Files: 10, MiB: 2}
	for _, c := range []struct {
		spec Spec
		want string
	}{
		{s, "synthetic-10f-2m"},
		{Spec{Kind: "synthetic", Files: 10, MiB: 2, Format: FormatZstdChunked}, "synthetic-10f-2m"},
		{Spec{Kind: "synthetic", Files: 10, MiB: 2, Format: FormatGzip}, "synthetic-10f-2m-gzip"},
		{Spec{Kind: "synthetic", Files: 10, MiB: 2, UpdateSeed: 3}, "synthetic-10f-2m-update3"},
		{Spec{Kind: "realistic", Seed: 7, Files: 10, MiB: 2, Format: FormatGzip}, "realistic-s7-10f-2m-gzip"},
	} {
		got, err := c.spec.Name()
		require.NoError(t, err)
		assert.Equal(t, c.want, got)
	}
	_, err := Spec{Kind: "synthetic", Format: "xz"}.Name()
	assert.Error(t, err)
	assert.Equal(t, s, Spec{Kind: "synthetic", Files: 10, MiB: 2, UpdateSeed: 3}.Base())
}
