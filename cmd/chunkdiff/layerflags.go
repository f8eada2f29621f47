package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/chunkdiff/chunkdiff/differ"
	dcontext "github.com/chunkdiff/chunkdiff/differ/context"
	"github.com/chunkdiff/chunkdiff/formats"
	"github.com/chunkdiff/chunkdiff/formats/estargz"
	"github.com/chunkdiff/chunkdiff/layerfile"
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
	policy      string
	tempDir     string
}

// defaultPullOptions are what --pull-option values are merged into.
var defaultPullOptions = map[string]string{dcontext.KeyEnablePartialImages: "true"}

// boolPullOptions are the pull options that take true or false.
var boolPullOptions = []string{
	dcontext.KeyEnablePartialImages, dcontext.KeyConvertImages, dcontext.KeyUseHardLinks, dcontext.KeyInsecureAllow,
}

func (f *layerFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.annotations, "annotations", "", "JSON file with the layer descriptor's annotations (default: BLOB.annotations.json, or BLOB with its extension replaced)")
	cmd.Flags().StringArrayVar(&f.pullOptions, "pull-option", nil,
		"pull option KEY=VALUE as in containers-storage.conf [storage.options.pull_options], merged into the default enable_partial_images=true (repeatable; keys: "+
			strings.Join(append(slices.Clone(boolPullOptions), dcontext.KeyOSTreeRepos), ", ")+")")
	cmd.Flags().Int64Var(&f.maxTOCSize, "max-toc-size", 0, "upstream's in-memory TOC limit in bytes (0: the default, 150 MiB): over it, --metadata-policy upstream falls back and stream streams the TOC from disk")
	cmd.Flags().StringVar(&f.policy, "metadata-policy", "", "stream (the default: metadata of any size, bounded memory) or upstream (a TOC over --max-toc-size falls back, as podman's own differ)")
	cmd.Flags().StringVar(&f.tempDir, "temp-dir", "", "where metadata spools go (default: the system temp dir)")
}

// layer is a blob file with everything needed to open a differ on it.
type layer struct {
	file        *layerfile.File
	path        string
	size        int64
	digest      digest.Digest
	annotations map[string]string
	annPath     string // where the annotations were looked for
	annFound    bool   // whether that file exists
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

// validate checks the flags before anything is read; its errors name the flag.
func (f *layerFlags) validate() (map[string]string, error) {
	pullMap := map[string]string{}
	for k, v := range defaultPullOptions {
		pullMap[k] = v
	}
	for _, kv := range f.pullOptions {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			return nil, usagef("--pull-option %q: want KEY=VALUE", kv)
		case slices.Contains(boolPullOptions, k):
			if v != "true" && v != "false" {
				return nil, usagef("--pull-option %s=%q: want true or false", k, v)
			}
		case k == dcontext.KeyOSTreeRepos:
		default:
			return nil, usagef("--pull-option %q: unknown key %q (known: %s, %s)", kv, k,
				strings.Join(boolPullOptions, ", "), dcontext.KeyOSTreeRepos)
		}
		pullMap[k] = v
	}
	if f.maxTOCSize < 0 {
		return nil, usagef("--max-toc-size %d: want a size in bytes, or 0 for the default", f.maxTOCSize)
	}
	if err := formats.MetadataPolicy(f.policy).Validate(); err != nil {
		return nil, usagef("--metadata-policy %q: want stream or upstream", f.policy)
	}
	if f.tempDir != "" {
		if st, err := os.Stat(f.tempDir); err != nil || !st.IsDir() {
			return nil, usagef("--temp-dir %s: not an existing directory", f.tempDir)
		}
	}
	return pullMap, nil
}

// load opens the blob and reads its annotations. The caller closes
// l.file. Reads stop when ctx is done.
func (f *layerFlags) load(ctx context.Context, blobPath string) (*layer, error) {
	pullMap, err := f.validate()
	if err != nil {
		return nil, err
	}
	file, err := openBlob(ctx, blobPath)
	if err != nil {
		return nil, err
	}
	l, err := f.describe(file, pullMap)
	if err != nil {
		_ = file.Close()
		return nil, err
	}
	return l, nil
}

func (f *layerFlags) describe(file *layerfile.File, pullMap map[string]string) (*layer, error) {
	ann, annPath, found, err := f.readAnnotations(file)
	if err != nil {
		return nil, err
	}
	dg, err := file.Digest()
	if err != nil {
		return nil, err
	}
	return &layer{
		file: file, path: file.Path(), size: file.Size(), digest: dg, annotations: ann, annPath: annPath, annFound: found,
		pull: dcontext.ParsePullOptions(pullMap), pullMap: pullMap,
		limits: dcontext.Limits{MaxTOCSize: f.maxTOCSize, MetadataPolicy: formats.MetadataPolicy(f.policy)}, tempDir: f.tempDir,
	}, nil
}

// openBlob opens the layer blob, naming it in the error.
func openBlob(ctx context.Context, path string) (*layerfile.File, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("layer blob %s: no such file", path)
	case err != nil:
		return nil, fmt.Errorf("layer blob %s: %w", path, err)
	case st.IsDir():
		return nil, fmt.Errorf("layer blob %s is a directory; give the blob file", path)
	}
	return layerfile.Open(ctx, path)
}

// readAnnotations reads the layer's annotations. Without --annotations a
// missing default file is an error only for a blob that looks like
// zstd:chunked or eStargz (both are found through their annotations); any
// other blob gets none, and the differ's fallback then says it has no TOC.
func (f *layerFlags) readAnnotations(file *layerfile.File) (ann map[string]string, annPath string, found bool, err error) {
	annPath = f.annotations
	explicit := annPath != ""
	if !explicit {
		annPath = defaultAnnotationsPath(file.Path())
	}
	raw, err := os.ReadFile(annPath)
	if errors.Is(err, os.ErrNotExist) {
		if explicit {
			return nil, annPath, false, usagef("--annotations %s: no such file", annPath)
		}
		switch {
		case sniff(file.Path()) == "zstd":
			return nil, annPath, false, fmt.Errorf("%s is zstd-compressed but its annotations are not at %s: a zstd:chunked layer is found through its descriptor's annotations; pass them with --annotations FILE", file.Path(), annPath)
		case isEStargz(file.Path()):
			return nil, annPath, false, fmt.Errorf("%s is an eStargz layer but its annotations are not at %s: its TOC digest is one of its descriptor's annotations; pass them with --annotations FILE", file.Path(), annPath)
		}
		return map[string]string{}, annPath, false, nil
	}
	if err != nil {
		return nil, annPath, false, fmt.Errorf("reading annotations: %w", err)
	}
	if err := json.Unmarshal(raw, &ann); err != nil {
		return nil, annPath, true, fmt.Errorf("annotations file %s: want a JSON object of strings: %w", annPath, err)
	}
	return ann, annPath, true, nil
}

// sniff names the blob's compression from its magic bytes: "gzip", "zstd"
// or "" (neither, or unreadable).
func sniff(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	switch head = head[:n]; {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "gzip"
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	}
	return ""
}

// isEStargz reports whether the blob ends with an eStargz footer.
func isEStargz(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() < estargz.FooterSize {
		return false
	}
	footer := make([]byte, estargz.FooterSize)
	if _, err := f.ReadAt(footer, st.Size()-estargz.FooterSize); err != nil {
		return false
	}
	_, err = estargz.ParseFooter(footer)
	return err == nil
}

// describeKind says what sniff found, for messages.
func describeKind(path string) string {
	switch sniff(path) {
	case "gzip":
		return "gzip-compressed"
	case "zstd":
		return "zstd-compressed"
	}
	return "not gzip or zstd data"
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
