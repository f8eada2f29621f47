package testutil

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRichTreeDeterministicAndComplete(t *testing.T) {
	a, b := TarBytes(t, RichTree(7)), TarBytes(t, RichTree(7))
	require.Equal(t, a, b)
	require.NotEqual(t, a, TarBytes(t, RichTree(8)))

	types := map[byte]int{}
	mtimes := map[int64]string{}
	var maxDepth, maxBase int
	var xattrs, setuid, sticky, bigFiles int
	for _, e := range RichTree(7) {
		h := e.Header
		types[h.Typeflag]++
		if prev, ok := mtimes[h.ModTime.UnixNano()]; ok && h.Typeflag != tar.TypeLink {
			t.Errorf("%s and %s share an mtime", prev, h.Name)
		}
		mtimes[h.ModTime.UnixNano()] = h.Name
		maxDepth = max(maxDepth, strings.Count(strings.TrimSuffix(h.Name, "/"), "/"))
		maxBase = max(maxBase, len(filepath.Base(h.Name)))
		for k := range h.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.") {
				xattrs++
			}
		}
		if h.Mode&0o4000 != 0 {
			setuid++
		}
		if h.Mode&0o1000 != 0 {
			sticky++
		}
		if len(e.Data) > 1<<20 {
			bigFiles++
		}
	}
	for _, ty := range []byte{tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo} {
		require.NotZero(t, types[ty], "type %q missing", ty)
	}
	require.GreaterOrEqual(t, maxDepth, 30)
	require.Equal(t, 255, maxBase)
	require.NotZero(t, xattrs)
	require.NotZero(t, setuid)
	require.NotZero(t, sticky)
	require.GreaterOrEqual(t, bigFiles, 2)
	// The tar round-trips through TarSnapshot, hard links included.
	snap := TarSnapshot(t, a)
	require.Equal(t, "etc/config", snap["usr/lib/config.hard"].LinkGroup)
	require.Equal(t, snap["etc/config"].SHA256, snap["usr/lib/config.hard"].SHA256)
	require.Equal(t, "\x00\x01\x02\xff\xfe", snap["xattr/file"].Xattrs["user.binary"])
}

// RichTree's big files must be split into several chunks, and the zero
// runs must produce zeros chunks, or differ tests lose coverage.
func TestRichTreeChunks(t *testing.T) {
	l := ZstdChunked(t, TarBytes(t, RichTree(1)))
	toc := decodeTOCForTest(t, l)
	chunks := map[string]int{}
	zeros := 0
	for _, e := range toc {
		if e.Type == "reg" || e.Type == "chunk" {
			chunks[e.Name]++
		}
		if e.ChunkType == "zeros" {
			zeros++
		}
	}
	require.Greater(t, chunks["usr/bin/big"], 3)
	require.Greater(t, chunks["usr/lib/libbig.so"], 3)
	require.NotZero(t, zeros)
}

func TestWhiteouts(t *testing.T) {
	parent := RichTree(1)
	upper := Whiteouts(parent, []string{"etc/tiny", "usr/bin/"}, []string{"home/user"}, []Entry{
		{Header: &tar.Header{Typeflag: tar.TypeDir, Name: "new/", Mode: 0o700}},
		{Header: &tar.Header{Typeflag: tar.TypeReg, Name: "new/sub/file", Mode: 0o644}, Data: []byte("x")},
		{Header: &tar.Header{Typeflag: tar.TypeReg, Name: "home/user/kept", Mode: 0o644}, Data: []byte("y")},
	})
	var names []string
	for _, e := range upper {
		names = append(names, e.Header.Name)
	}
	require.Equal(t, []string{
		"home/", "home/user/", "home/user/.wh..wh..opq",
		"etc/", "etc/.wh.tiny",
		"usr/", "usr/.wh.bin",
		"new/", "new/sub/", "new/sub/file",
		"home/user/kept",
	}, names)
	// Parent directories keep the parent's metadata; new/ keeps its own.
	require.EqualValues(t, 0o700, upper[1].Header.Mode)
	require.Equal(t, 123456, upper[1].Header.Uid)
	require.EqualValues(t, 0o700, upper[7].Header.Mode)
	TarBytes(t, upper)
}

func TestRealisticTree(t *testing.T) {
	o := RealisticOptions{Seed: 3, Files: 300, TotalBytes: 4 << 20}
	d1, d2 := t.TempDir(), t.TempDir()
	require.NoError(t, RealisticTree(d1, o))
	require.NoError(t, RealisticTree(d2, o))
	s1 := Snapshot(t, d1)
	require.Empty(t, Diff(s1, Snapshot(t, d2)))
	var files, total, small int
	for _, fi := range s1 {
		if fi.Type == "reg" {
			files++
			total += int(fi.Size)
			if fi.Size < 16<<10 {
				small++
			}
		}
	}
	require.Equal(t, 300, files)
	require.InDelta(t, 4<<20, total, 64<<10)
	require.Greater(t, small, 200, "most files should be small")
	// The in-memory variant describes the same tree.
	require.Empty(t, Diff(s1, TarSnapshot(t, TarBytes(t, RealisticEntries(o)))))
	_, err := os.Stat(filepath.Join(d1, "bin", "tool000"))
	require.NoError(t, err)
}
