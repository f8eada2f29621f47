package apply

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"go.podman.io/storage/pkg/archive"
	"golang.org/x/sys/unix"
)

func TestWhiteoutOverlay(t *testing.T) {
	requireRoot(t)
	for _, rootless := range []bool{false, true} {
		dest := t.TempDir()
		r := mustOpen(t, dest, Options{WhiteoutFormat: archive.OverlayWhiteoutFormat, Rootless: rootless,
			UIDMaps: shift, GIDMaps: shift})
		wo := func(name string) bool {
			t.Helper()
			handled, err := r.Whiteout(&toc.Entry{Type: toc.TypeReg, Name: name, Mode: 0o644, UID: 1, GID: 2})
			must(t, err)
			return handled
		}
		if !wo(".wh..wh..opq") || !wo("a/b/.wh..wh..opq") || !wo("a/.wh.gone") {
			t.Fatal("whiteout not handled")
		}
		if wo("a/plain") || wo("a/x.wh.y") {
			t.Fatal("ordinary name handled as a whiteout")
		}
		attr := "trusted.overlay.opaque"
		if rootless {
			attr = "user.overlay.opaque"
		}
		wantXattr(t, dest, attr, "y")
		wantXattr(t, filepath.Join(dest, "a/b"), attr, "y")
		st := wantStat(t, filepath.Join(dest, "a/gone"), unix.S_IFCHR, 0, 100001, 100002, time.Time{})
		if st.Rdev != 0 {
			t.Errorf("whiteout rdev %d", st.Rdev)
		}
		for _, p := range []string{".wh..wh..opq", "a/b/.wh..wh..opq", "a/.wh.gone"} {
			if _, err := os.Lstat(filepath.Join(dest, p)); !os.IsNotExist(err) {
				t.Errorf("%s written: %v", p, err)
			}
		}
		// Under a deleted (whiteout) directory: ignored, like upstream.
		if !wo("a/gone/.wh.x") {
			t.Error("whiteout under a whiteout not handled")
		}
		// A second whiteout for the same name clashes.
		if _, err := r.Whiteout(&toc.Entry{Type: toc.TypeReg, Name: "a/.wh.gone"}); !isConflict(err) {
			t.Errorf("duplicate whiteout: %v", err)
		}
	}
}

func TestWhiteoutHostile(t *testing.T) {
	requireRoot(t)
	for _, c := range []struct {
		setup []toc.Entry
		name  string
	}{
		{nil, "../.wh.sentinel"},
		{nil, "a/.wh.."},
		{nil, "a/.wh..."},
		{nil, ".wh."},
		{[]toc.Entry{{Type: toc.TypeSymlink, Name: "s", LinkName: "../sentinel"}}, "s/.wh.etc"},
		{[]toc.Entry{{Type: toc.TypeSymlink, Name: "s", LinkName: "../sentinel"}}, "s/.wh..wh..opq"},
	} {
		j := newJail(t)
		r := mustOpen(t, j.dest, Options{WhiteoutFormat: archive.OverlayWhiteoutFormat})
		for i := range c.setup {
			must(t, applyEntry(r, &c.setup[i], nil))
		}
		if _, err := r.Whiteout(&toc.Entry{Type: toc.TypeReg, Name: c.name}); !isInsecure(err) {
			t.Errorf("%s: %v, want InsecurePathError", c.name, err)
		}
		j.check(t)
	}
}

func TestWhiteoutOtherFormats(t *testing.T) {
	r := mustOpen(t, t.TempDir(), Options{WhiteoutFormat: archive.AUFSWhiteoutFormat})
	if handled, err := r.Whiteout(&toc.Entry{Type: toc.TypeReg, Name: ".wh..wh..opq"}); handled || err != nil {
		t.Errorf("AUFS: handled=%v err=%v", handled, err)
	}
	if !IsWhiteout("a/.wh.b") || IsWhiteout("a/b.wh.") {
		t.Error("IsWhiteout")
	}
}
