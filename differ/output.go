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

// maxStoredTOC bounds the TOC handed to the store as the layer's big data.
// The store takes big data as one []byte, so a TOC kept there is wholly in
// memory once; above this bound (about 150,000 files) it is not kept, which
// keeps a pull's memory independent of the layer's size. The store and
// upstream's layers cache treat such a layer as one without a TOC, and later
// pulls reuse its files by path (docs/DECISIONS.md).
var maxStoredTOC uint64 = 64 << 20 // a var for tests

// readTOC returns the uncompressed TOC JSON of size bytes for BigData, or
// nil when it is over maxStoredTOC.
func readTOC(r io.Reader, size uint64) ([]byte, error) {
	if size > maxStoredTOC {
		return nil, nil
	}
	b := make([]byte, size) // exact: ReadAll would grow and copy it
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("reading the TOC spool: %w", err)
	}
	return b, nil
}

// diffIDJob recomputes the DiffID from the tar-split while the layer is
// being fetched, reading each file once progress says it is complete.
type diffIDJob struct {
	done chan struct{}
	dg   digest.Digest
	n    int64
	err  error
}

func startDiffID(tarSplit *os.File, root *apply.Root, p *progress) *diffIDJob {
	j := &diffIDJob{done: make(chan struct{})}
	go func() {
		defer close(j.done)
		j.dg, j.n, j.err = diffid.Compute(io.NewSectionReader(tarSplit, 0, 1<<62), func(name string) (io.ReadCloser, error) {
			at, err := p.wait(name)
			if err != nil {
				return nil, err
			}
			return root.OpenForRead(at)
		})
	}()
	return j
}

func (j *diffIDJob) wait() (digest.Digest, int64, error) {
	<-j.done
	return j.dg, j.n, j.err
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
