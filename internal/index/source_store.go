package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	storage "go.podman.io/storage"
	graphdriver "go.podman.io/storage/drivers"
)

// Big-data items of a layer pulled with a TOC (FORMATS.md "big-data").
const (
	bigDataTOC       = "zstd-chunked-manifest"
	bigDataLayerData = "zstd-chunked-layer-data"
)

// layerSpec is what loading or building one layer's index needs; specs
// decouple the file handling from the store (benchmarks use their own).
type layerSpec struct {
	id          string
	dir         string
	fingerprint string
	build       func() (Kind, *builder, error)
	// byPath: when no valid index file exists, look the layer up by path
	// instead of building one (FilesByPath).
	byPath bool
}

// source is how a layer is indexed, the first part of its fingerprint.
type source string

const (
	sourceTOC   source = "toc"
	sourceFiles source = "files"
)

// fingerprint identifies what a layer's index is built from, using only the
// store's layer record (no I/O). The creation time tells a layer re-pulled
// under the same ID (c/image derives IDs from content) from its
// predecessor; the digests tell what content it holds.
func fingerprint(src source, l *storage.Layer) string {
	return fmt.Sprintf("%s created=%d toc=%s diff=%s compressed=%s",
		src, l.Created.UnixNano(), l.TOCDigest, l.UncompressedDigest, l.CompressedDigest)
}

// specFor decides how layer l is indexed; ok is false when it is not.
func specFor(store storage.Store, l *storage.Layer, cfg *config) (layerSpec, bool, error) {
	if incomplete, _ := l.Flags["incomplete"].(bool); incomplete {
		return layerSpec{}, false, nil // being created or deleted
	}
	var src source
	switch {
	case slices.Contains(l.BigDataNames, bigDataTOC):
		src = sourceTOC
	case l.UncompressedDigest != "" && cfg.files != FilesNone:
		// Only layers with a diff digest: the others are containers'
		// read-write layers, which change all the time.
		src = sourceFiles
	default:
		return layerSpec{}, false, nil
	}
	if !validID(l.ID) {
		return layerSpec{}, false, fmt.Errorf("layer ID %q cannot name a file", l.ID)
	}
	if l.ReadOnly {
		// Additional image stores: DifferTarget only serves the
		// read-write store.
		return layerSpec{}, false, nil
	}
	dir, err := store.DifferTarget(l.ID)
	if errors.Is(err, storage.ErrLayerUnknown) || errors.Is(err, storage.ErrNotSupported) {
		return layerSpec{}, false, nil // deleted since Layers(), or no differ support
	}
	if err != nil {
		return layerSpec{}, false, err
	}
	id := l.ID
	s := layerSpec{id: id, dir: dir, fingerprint: fingerprint(src, l), byPath: src == sourceFiles && cfg.files == FilesByPath}
	if src == sourceTOC {
		s.build = func() (Kind, *builder, error) { return buildFromStoreTOC(store, id) }
	} else {
		s.build = func() (Kind, *builder, error) {
			b, err := buildFromFiles(dir)
			return KindFiles, b, err
		}
	}
	return s, true, nil
}

// validID accepts IDs that are a plain file name in the index directory.
func validID(id string) bool {
	return id != "" && len(id) <= 200 && !strings.ContainsAny(id, "/\x00") && id[0] != '.'
}

func buildFromStoreTOC(store storage.Store, id string) (Kind, *builder, error) {
	kind := KindTOC
	rc, err := store.LayerBigData(id, bigDataLayerData)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// No layer data: upstream treats it as the Dir format.
	case err != nil:
		return 0, nil, err
	default:
		raw, err := io.ReadAll(io.LimitReader(rc, 1<<20))
		rc.Close()
		if err != nil {
			return 0, nil, err
		}
		var ld struct {
			Format graphdriver.DifferOutputFormat `json:"format"`
		}
		if err := json.Unmarshal(raw, &ld); err != nil {
			return 0, nil, fmt.Errorf("%s: %w", bigDataLayerData, err)
		}
		switch ld.Format {
		case graphdriver.DifferOutputFormatDir:
		case graphdriver.DifferOutputFormatFlat:
			kind = KindTOCFlat
		default:
			return 0, nil, fmt.Errorf("%s: unknown format %d", bigDataLayerData, ld.Format)
		}
	}
	rc, err = store.LayerBigData(id, bigDataTOC)
	if err != nil {
		return 0, nil, err
	}
	defer rc.Close()
	b, err := buildFromTOC(rc, kind == KindTOCFlat)
	return kind, b, err
}
