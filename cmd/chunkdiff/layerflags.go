package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/chunkdiff/chunkdiff/differ"
	dcontext "github.com/chunkdiff/chunkdiff/differ/context"
	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
	storage "go.podman.io/storage"
	"go.podman.io/storage/pkg/chunked"
)

// layerFlags describe one layer blob on disk and how to pull it.
type layerFlags struct {
	annotations string
	pullOptions []string
	maxTOCSize  int64
	tempDir     string
}

func (f *layerFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.annotations, "annotations", "", "JSON file with the layer descriptor's annotations (default: BLOB.annotations.json, or BLOB with its extension replaced)")
	cmd.Flags().StringArrayVar(&f.pullOptions, "pull-option", []string{"enable_partial_images=true"},
		"pull option KEY=VALUE as in containers-storage.conf [storage.options.pull_options] (repeatable)")
	cmd.Flags().Int64Var(&f.maxTOCSize, "max-toc-size", 0, "TOC size limit in bytes (0: the default, 150 MiB)")
	cmd.Flags().StringVar(&f.tempDir, "temp-dir", "", "where metadata spools go (default: the system temp dir)")
}

// layer is a blob file with everything needed to open a differ on it.
type layer struct {
	path        string
	size        int64
	digest      digest.Digest
	annotations map[string]string
	pull        dcontext.PullOptions
	pullMap     map[string]string // the same options, as a store takes them
	limits      dcontext.Limits
	tempDir     string
}

// config is the differ configuration for l: every flag, with or without a
// store (with one, the pull options reach the differ through the store).
func (l *layer) config(store storage.Store) differ.Config {
	cfg := differ.Config{Limits: l.limits, TempDir: l.tempDir}
	if store != nil {
		cfg.Store, cfg.ContentIndex = store, true
	} else {
		pull := l.pull
		cfg.Pull = &pull
	}
	return cfg
}

// differLayer describes l's blob, read from src.
func (l *layer) differLayer(src chunked.ImageSourceSeekable) differ.Layer {
	return differ.Layer{Digest: l.digest, Size: l.size, Annotations: l.annotations, Source: src}
}

func (f *layerFlags) load(blobPath string) (*layer, error) {
	annPath := f.annotations
	if annPath == "" {
		annPath = defaultAnnotationsPath(blobPath)
	}
	raw, err := os.ReadFile(annPath)
	if err != nil {
		return nil, fmt.Errorf("reading annotations: %w", err)
	}
	var ann map[string]string
	if err := json.Unmarshal(raw, &ann); err != nil {
		return nil, fmt.Errorf("annotations file %s: %w", annPath, err)
	}
	pullMap := map[string]string{}
	for _, kv := range f.pullOptions {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--pull-option %q: want KEY=VALUE", kv)
		}
		pullMap[k] = v
	}
	blob, err := os.Open(blobPath)
	if err != nil {
		return nil, err
	}
	defer blob.Close()
	st, err := blob.Stat()
	if err != nil {
		return nil, err
	}
	dg, err := digest.SHA256.FromReader(blob)
	if err != nil {
		return nil, fmt.Errorf("hashing %s: %w", blobPath, err)
	}
	return &layer{
		path: blobPath, size: st.Size(), digest: dg, annotations: ann,
		pull: dcontext.ParsePullOptions(pullMap), pullMap: pullMap,
		limits: dcontext.Limits{MaxTOCSize: f.maxTOCSize}, tempDir: f.tempDir,
	}, nil
}

// defaultAnnotationsPath maps base.tar.zst to base.annotations.json.
func defaultAnnotationsPath(blob string) string {
	for _, ext := range []string{".tar.zst", ".tar.gz", ".zst", ".gz", ".tar"} {
		if strings.HasSuffix(blob, ext) {
			return strings.TrimSuffix(blob, ext) + ".annotations.json"
		}
	}
	return blob + ".annotations.json"
}
