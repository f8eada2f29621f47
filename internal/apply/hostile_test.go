package apply

import (
	"errors"
	"strings"
	"testing"

	"github.com/chunkdiff/chunkdiff/formats/toc"
)

func isInsecure(err error) bool {
	var ip *InsecurePathError
	return errors.As(err, &ip) && errors.Is(err, ErrInsecurePath)
}

func isConflict(err error) bool {
	var ce *ConflictError
	return errors.As(err, &ce) && errors.Is(err, ErrConflict)
}

func TestHostile(t *testing.T) {
	requireRoot(t)
	reg := func(name string) toc.Entry { return toc.Entry{Type: toc.TypeReg, Name: name, Mode: 0o644} }
	dir := func(name string) toc.Entry { return toc.Entry{Type: toc.TypeDir, Name: name, Mode: 0o755} }
	sym := func(name, target string) toc.Entry {
		return toc.Entry{Type: toc.TypeSymlink, Name: name, LinkName: target}
	}
	link := func(name, target string) toc.Entry {
		return toc.Entry{Type: toc.TypeHardlink, Name: name, LinkName: target, Mode: 0o777}
	}
	cases := []struct {
		name    string
		setup   []toc.Entry // must all succeed
		bad     toc.Entry
		want    func(error) bool
		mention string // substring the error must contain besides the name
	}{
		{name: "dotdot", bad: reg("../x"), want: isInsecure},
		{name: "abs dotdot", bad: reg("/../../x"), want: isInsecure},
		{name: "inner dotdot", bad: reg("a/../../x"), want: isInsecure},
		{name: "dotdot dir", bad: dir("../sentinel/new"), want: isInsecure},
		{name: "dotdot symlink", bad: sym("../sentinel/l", "/"), want: isInsecure},
		{name: "hardlink target dotdot", setup: []toc.Entry{reg("f")}, bad: link("h", "../../etc/passwd"), want: isInsecure},
		{name: "hardlink name dotdot", setup: []toc.Entry{reg("f")}, bad: link("../h", "f"), want: isInsecure},
		{name: "abs symlink parent", setup: []toc.Entry{sym("a", "/")}, bad: reg("a/x"), want: isInsecure, mention: `parent "a" is a symlink`},
		{name: "abs symlink parent dir", setup: []toc.Entry{sym("a", "/")}, bad: dir("a/x/y"), want: isInsecure, mention: `parent "a" is a symlink`},
		{name: "rel symlink parent", setup: []toc.Entry{sym("b", "..")}, bad: reg("b/x"), want: isInsecure, mention: `parent "b" is a symlink`},
		{name: "deep symlink parent", setup: []toc.Entry{dir("d"), sym("d/up", "../../sentinel")}, bad: reg("d/up/x"), want: isInsecure, mention: `parent "d/up" is a symlink`},
		{name: "symlink parent device", setup: []toc.Entry{sym("b", "../sentinel")}, bad: toc.Entry{Type: toc.TypeFifo, Name: "b/p"}, want: isInsecure},
		{name: "symlink parent symlink", setup: []toc.Entry{sym("b", "../sentinel")}, bad: sym("b/l", "x"), want: isInsecure},
		{name: "hardlink through symlink", setup: []toc.Entry{sym("out", "../sentinel/etc")}, bad: link("h", "out/passwd"), want: isInsecure, mention: `"out" is a symlink`},
		{name: "hardlink into symlink dir", setup: []toc.Entry{reg("f"), sym("out", "../sentinel")}, bad: link("out/h", "f"), want: isInsecure},
		{name: "duplicate file", setup: []toc.Entry{reg("f")}, bad: reg("f"), want: isConflict, mention: "already exists"},
		{name: "file over symlink", setup: []toc.Entry{sym("f", "../sentinel.txt")}, bad: reg("f"), want: isConflict},
		{name: "file where dir expected", setup: []toc.Entry{reg("f")}, bad: reg("f/x"), want: isConflict, mention: `parent "f" is not a directory`},
		{name: "dir over file", setup: []toc.Entry{reg("f")}, bad: dir("f"), want: isConflict, mention: "not a directory"},
		{name: "dir over symlink", setup: []toc.Entry{sym("s", "../sentinel")}, bad: dir("s"), want: isConflict},
		{name: "symlink at root", bad: sym("/", "/etc"), want: isInsecure},
		{name: "hardlink to root", bad: link("h", "./"), want: isInsecure},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := newJail(t)
			r := mustOpen(t, j.dest, Options{})
			for i := range c.setup {
				must(t, applyEntry(r, &c.setup[i], strings.NewReader("")))
			}
			err := applyEntry(r, &c.bad, strings.NewReader(""))
			// Keep going on a wrong result: the jail check below is the
			// one that matters most.
			if !c.want(err) {
				t.Errorf("got %v (%T)", err, err)
			}
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			wantName := strings.TrimPrefix(strings.TrimPrefix(c.bad.Name, "/"), "./")
			if !strings.Contains(msg, wantName) && !strings.Contains(msg, c.bad.Name) {
				t.Errorf("error %q does not name the entry %q", msg, c.bad.Name)
			}
			if c.mention != "" && !strings.Contains(msg, c.mention) {
				t.Errorf("error %q does not say %q", msg, c.mention)
			}
			_ = r.FinishDirs()
			j.check(t)
		})
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"/": "", "./": "", ".": "", "": "", "//./": "", "etc/": "etc", "./etc/passwd": "etc/passwd",
		"/usr//bin/./x": "usr/bin/x", "a/b/../c": "a/c", "a/..": "",
	} {
		got, err := cleanName(in)
		if err != nil || got != want {
			t.Errorf("cleanName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"..", "../x", "/../x", "a/../../x", "./..", "a\x00b"} {
		if _, err := cleanName(in); !isInsecure(err) {
			t.Errorf("cleanName(%q): %v, want InsecurePathError", in, err)
		}
	}
}
