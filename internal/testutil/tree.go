package testutil

import (
	"archive/tar"
	"math/rand"
	"strings"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/treegen"
)

// treeEpoch is the base mtime of generated trees (see treegen.Epoch).
var treeEpoch = treegen.Epoch

// RichTree returns a deterministic tree exercising every entry type and
// header feature a differ must reproduce. Parents precede children.
func RichTree(seed int64) []Entry {
	rng := rand.New(rand.NewSource(seed))
	g := &treeGen{rng: rng, mtime: treeEpoch.Add(time.Duration(rng.Intn(1000)) * time.Hour)}

	g.dir("etc/", 0o755, 0, 0)
	g.file("etc/empty", 0o644, 0, 0, nil)
	g.file("etc/tiny", 0o644, 0, 0, []byte("x"))
	g.file("etc/config", 0o600, 1000, 1000, []byte("key = value\n"))
	g.dir("usr/", 0o755, 0, 0)
	g.dir("usr/bin/", 0o755, 0, 0)
	g.dir("usr/lib/", 0o755, 0, 0)
	// Multi-chunk files: random and repetitive content interleaved.
	g.file("usr/bin/big", 0o755, 0, 0, mixedContent(rng, 3<<20))
	g.file("usr/lib/libbig.so", 0o644, 0, 0, mixedContent(rng, 5<<20/2))
	// Long zero runs become "zeros" chunks.
	g.file("usr/lib/sparse.img", 0o644, 0, 0, zeroRunContent(rng))
	g.file("usr/lib/allzeros", 0o644, 0, 0, make([]byte, 200<<10))
	g.file("usr/bin/suid", 0o4755, 0, 0, randomBytes(rng, 4096))
	g.file("usr/bin/sgid", 0o2755, 0, 50, randomBytes(rng, 100))
	g.symlink("usr/bin/sh", "big")
	g.symlink("usr/bin/abs", "/usr/lib/libbig.so")
	g.symlink("usr/lib/dangling", "../nowhere")
	g.symlink("usr/lib/dirlink", "../../etc")
	g.hardlink("usr/lib/config.hard", "etc/config")
	g.hardlink("usr/bin/big.hard", "usr/bin/big")
	g.hardlink("usr/lib/empty.hard", "etc/empty")

	g.dir("dev/", 0o755, 0, 0)
	g.add(&tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3})
	g.add(&tar.Header{Typeflag: tar.TypeBlock, Name: "dev/loop0", Mode: 0o660, Gid: 6, Devmajor: 7, Devminor: 0})
	g.add(&tar.Header{Typeflag: tar.TypeFifo, Name: "dev/fifo", Mode: 0o640, Uid: 33, Gid: 33})

	g.dir("xattr/", 0o755, 0, 0)
	g.dirX("xattr/dir/", map[string]string{"user.dirattr": "on a directory"})
	g.fileX("xattr/file", []byte("with xattrs\n"), map[string]string{
		"user.foo":    "bar",
		"user.binary": "\x00\x01\x02\xff\xfe",
		"user.long":   strings.Repeat("v", 1000),
	})
	g.add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "xattr/link", Linkname: "file", Mode: 0o777})

	g.dir("tmp/", 0o1777, 0, 0)
	g.dir("home/", 0o755, 0, 0)
	g.dir("home/user/", 0o700, 123456, 654321)
	g.file("home/user/.profile", 0o644, 123456, 654321, []byte("export PATH\n"))
	g.file("home/user/nobody", 0o400, 65534, 65534, []byte("owned by nobody\n"))

	g.dir("unicode/", 0o755, 0, 0)
	g.file("unicode/héllo wörld — 日本語 🚀.txt", 0o644, 0, 0, []byte("unicode\n"))
	g.file("unicode/"+strings.Repeat("n", 255), 0o644, 0, 0, []byte("255-byte name\n"))

	deep := "deep/"
	g.dir(deep, 0o755, 0, 0)
	for i := 0; i < 32; i++ {
		deep += "l" + string(rune('a'+i%26)) + "/"
		g.dir(deep, 0o755, 0, 0)
	}
	g.file(deep+"bottom", 0o644, 0, 0, []byte("deep\n"))
	return g.entries
}

// treeGen hands out strictly increasing mtimes so that every entry,
// directories included, has a distinct one.
type treeGen struct {
	rng     *rand.Rand
	mtime   time.Time
	entries []Entry
}

func (g *treeGen) add(h *tar.Header) {
	g.addData(h, nil)
}

func (g *treeGen) addData(h *tar.Header, data []byte) {
	g.mtime = g.mtime.Add(time.Duration(1+g.rng.Intn(3600)) * time.Second)
	h.ModTime = g.mtime
	g.entries = append(g.entries, Entry{Header: h, Data: data})
}

func (g *treeGen) dir(name string, mode int64, uid, gid int) {
	g.add(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, Uid: uid, Gid: gid})
}

func (g *treeGen) dirX(name string, xattrs map[string]string) {
	g.add(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, PAXRecords: paxXattrs(xattrs)})
}

func (g *treeGen) file(name string, mode int64, uid, gid int, data []byte) {
	g.addData(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Uid: uid, Gid: gid}, data)
}

func (g *treeGen) fileX(name string, data []byte, xattrs map[string]string) {
	g.addData(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, PAXRecords: paxXattrs(xattrs)}, data)
}

func (g *treeGen) symlink(name, target string) {
	g.add(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777})
}

// hardlink copies the target's metadata, as tar writers do.
func (g *treeGen) hardlink(name, target string) {
	for _, e := range g.entries {
		if e.Header.Name == target {
			h := *e.Header
			h.Typeflag, h.Name, h.Linkname, h.Size = tar.TypeLink, name, target, 0
			g.entries = append(g.entries, Entry{Header: &h})
			return
		}
	}
	panic("hardlink target not generated yet: " + target)
}

func paxXattrs(x map[string]string) map[string]string {
	m := make(map[string]string, len(x))
	for k, v := range x {
		m["SCHILY.xattr."+k] = v
	}
	return m
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	rng.Read(b)
	return b
}

// mixedContent alternates random blocks (incompressible, so the rolling
// checksum finds chunk boundaries) with repetitive text.
func mixedContent(rng *rand.Rand, n int) []byte {
	b := make([]byte, 0, n)
	line := []byte("the quick brown fox jumps over the lazy dog 0123456789\n")
	for len(b) < n {
		if rng.Intn(2) == 0 {
			b = append(b, randomBytes(rng, 16<<10+rng.Intn(64<<10))...)
		} else {
			for k := rng.Intn(1000); k >= 0; k-- {
				b = append(b, line...)
			}
		}
	}
	return b[:n]
}

// zeroRunContent has zero runs of 64 KiB and more between random data,
// and ends with a zero run.
func zeroRunContent(rng *rand.Rand) []byte {
	var b []byte
	b = append(b, randomBytes(rng, 10_000)...)
	b = append(b, make([]byte, 64<<10)...)
	b = append(b, randomBytes(rng, 5_000)...)
	b = append(b, make([]byte, 300<<10)...)
	b = append(b, randomBytes(rng, 1)...)
	b = append(b, make([]byte, 128<<10)...)
	return b
}
