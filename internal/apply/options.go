package apply

import (
	"os"
	"path"
	"path/filepath"
	"strings"

	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/idtools"
)

// Options are the subset of archive.TarOptions that shape materialisation.
// WhiteoutData is deliberately absent: overlay passes its read-only layers
// there, and they are only consulted when writing a tar, never when
// applying one.
type Options struct {
	UIDMaps, GIDMaps  []idtools.IDMap
	ChownOpts         *idtools.IDPair
	ForceMask         *os.FileMode
	IgnoreChownErrors bool
	WhiteoutFormat    archive.WhiteoutFormat
	// Rootless selects user.overlay.opaque instead of trusted.overlay.opaque
	// (pkg/archive decides with unshare.IsRootless()).
	Rootless bool
	// TempDir holds the unlinked spool files for what outgrows a constant
	// memory bound (directory times; os.TempDir() when empty). Never the
	// destination: nothing may appear in the staged tree.
	TempDir string
}

// cleanName turns an entry name into a local, cleaned, slash-separated path;
// "" means the root itself. Non-local names are an error: we reject rather
// than confine them, like pkg/archive and unlike upstream's chunked differ.
func cleanName(name string) (string, error) {
	n := name
	for {
		if rest, ok := strings.CutPrefix(n, "/"); ok {
			n = rest
			continue
		}
		if rest, ok := strings.CutPrefix(n, "./"); ok {
			n = rest
			continue
		}
		break
	}
	if n == "" || n == "." {
		return "", nil
	}
	if strings.IndexByte(n, 0) >= 0 {
		return "", &InsecurePathError{Name: name, Reason: "name contains a NUL byte"}
	}
	if !filepath.IsLocal(n) {
		return "", &InsecurePathError{Name: name, Reason: "name is not local to the layer root"}
	}
	n = path.Clean(n)
	if n == "." {
		return "", nil
	}
	return n, nil
}
