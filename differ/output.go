package differ

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/chunkdiff/chunkdiff/internal/apply"
	"github.com/chunkdiff/chunkdiff/internal/diffid"
	"github.com/opencontainers/go-digest"
	graphdriver "go.podman.io/storage/drivers"
)

// Big-data keys the layer store keeps (and the layers cache reads).
const (
	bigDataTOC       = "zstd-chunked-manifest"
	bigDataLayerData = "zstd-chunked-layer-data"
	artifactTOC      = "toc"
	artifactVerity   = "fs-verity-digests"
)

// layerData is the "zstd-chunked-layer-data" item: how the layer was staged.
type layerData struct {
	Format graphdriver.DifferOutputFormat `json:"format"`
}

// readTOC returns the uncompressed TOC JSON for BigData. The store takes it
// as one []byte; this is the one place the whole TOC is in memory.
func readTOC(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading the TOC spool: %w", err)
	}
	return b, nil
}

// computeDiffID reassembles the tar from the tar-split and the staged files.
func computeDiffID(tarSplit *os.File, root *apply.Root, flatNames map[string]string) (digest.Digest, int64, error) {
	open := func(name string) (io.ReadCloser, error) {
		if flatNames != nil {
			p, ok := flatName(flatNames, name)
			if !ok {
				return nil, fmt.Errorf("tar-split names %q, which the TOC does not have", name)
			}
			name = p
		}
		return root.OpenForRead(name)
	}
	return diffid.Compute(io.NewSectionReader(tarSplit, 0, 1<<62), open)
}

func marshalLayerData(f graphdriver.DifferOutputFormat) ([]byte, error) {
	return json.Marshal(layerData{Format: f})
}

// rewind prepares the tar-split for the store, which reads it from its
// current position.
func rewind(f *os.File) error {
	if f == nil {
		return errors.New("no tar-split")
	}
	_, err := f.Seek(0, io.SeekStart)
	return err
}
