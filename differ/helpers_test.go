package differ

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"go.podman.io/storage/pkg/fsverity"
)

type textBuffer struct{ strings.Builder }

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func enableVerityProbe(f *os.File) error { return fsverity.EnableVerity(f.Name(), int(f.Fd())) }

// zstdItems lists the rich layer's regular files.
func zstdItems(t *testing.T) []toc.Entry {
	var out []toc.Entry
	for _, e := range testutil.RichTree(1) {
		if e.Header.Typeflag == tar.TypeReg {
			out = append(out, toc.Entry{Type: toc.TypeReg, Name: e.Header.Name, Size: e.Header.Size})
		}
	}
	return out
}
