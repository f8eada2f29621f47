package layer

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/chunkdiff/chunkdiff/internal/treegen"
)

// Layer formats: how the tar is compressed.
const (
	FormatZstdChunked = "zstd:chunked" // upstream's compressor, with a TOC
	FormatGzip        = "gzip"         // no TOC: pulled whole (convert_images)
)

// Spec chooses the benchmark layer.
type Spec struct {
	Kind   string // "goroot", "synthetic" or "realistic"
	GoRoot string // the tree for "goroot"
	Files  int    // regular files for "synthetic" and "realistic"
	MiB    int64  // file bytes for "synthetic" and "realistic"
	// Seed picks the tree for "realistic" (treegen.RealisticEntries): trees
	// of different seeds share no file content and few paths.
	Seed   int64
	Format string // FormatZstdChunked ("" too) or FormatGzip
	// UpdateSeed, if not 0, makes the layer treegen.Update(base, seed) of
	// the layer this spec describes without it (Base).
	UpdateSeed int64
}

func (s Spec) format() string {
	if s.Format == "" {
		return FormatZstdChunked
	}
	return s.Format
}

// Base is the layer an update spec updates (s itself otherwise).
func (s Spec) Base() Spec {
	s.UpdateSeed = 0
	return s
}

// Name keys the cache: it changes whenever the content would.
func (s Spec) Name() (string, error) {
	name, err := s.treeName()
	if err != nil {
		return "", err
	}
	switch f := s.format(); f {
	case FormatZstdChunked:
	case FormatGzip:
		name += "-gzip"
	default:
		return "", fmt.Errorf("unknown layer format %q (want %s or %s)", f, FormatZstdChunked, FormatGzip)
	}
	if s.UpdateSeed != 0 {
		name += fmt.Sprintf("-update%d", s.UpdateSeed)
	}
	return name, nil
}

func (s Spec) treeName() (string, error) {
	switch s.Kind {
	case "goroot":
		v, err := goVersion(s.GoRoot)
		if err != nil {
			return "", err
		}
		return "goroot-" + v, nil
	case "synthetic":
		return fmt.Sprintf("synthetic-%df-%dm", s.Files, s.MiB), nil
	case "realistic":
		return fmt.Sprintf("realistic-s%d-%df-%dm", s.Seed, s.Files, s.MiB), nil
	}
	return "", fmt.Errorf("unknown layer kind %q (want goroot, synthetic or realistic)", s.Kind)
}

// goVersion is the first line of GOROOT/VERSION, e.g. "go1.26.8".
func goVersion(root string) (string, error) {
	f, err := os.Open(filepath.Join(root, "VERSION"))
	if err != nil {
		return "", fmt.Errorf("goroot layer: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return "", fmt.Errorf("goroot layer: empty %s/VERSION", root)
	}
	return strings.TrimSpace(sc.Text()), nil
}

// Ensure returns the layer for s under outDir/layers, building it first if
// it is not cached. A generated tree is handed to discard (moved aside, not
// deleted: deleting it now would slow down the runs that follow).
func Ensure(outDir string, s Spec, discard func(path string) error) (Files, Meta, error) {
	name, err := s.Name()
	if err != nil {
		return Files{}, Meta{}, err
	}
	f := Files{Dir: filepath.Join(outDir, "layers", name)}
	if m, ok, err := Load(f); ok || err != nil {
		return f, m, err
	}
	if s.UpdateSeed != 0 {
		return ensureUpdate(outDir, s, f, name, discard)
	}
	if s.Kind == "realistic" {
		// Generated in memory (a few tens of MiB): no tree on disk to discard.
		src := EntriesTar(treegen.RealisticEntries(treegen.RealisticOptions{Seed: s.Seed, Files: s.Files, TotalBytes: s.MiB << 20}))
		m, err := Build(f, src, s.format(), Meta{Name: name})
		if err != nil {
			return f, m, err
		}
		m.Description = describe(s, m)
		return f, m, writeJSON(f.Meta(), m)
	}
	tree := s.GoRoot
	if s.Kind == "synthetic" {
		tree = filepath.Join(outDir, "trees", name)
		if err := os.RemoveAll(tree); err != nil { // a leftover of an interrupted build
			return f, Meta{}, fmt.Errorf("synthetic tree: %w", err)
		}
		if err := Synthetic(tree, s.Files, s.MiB<<20); err != nil {
			return f, Meta{}, err
		}
	}
	m, err := Build(f, TreeTar(tree), s.format(), Meta{Name: name})
	if err != nil {
		return f, m, err
	}
	m.Description = describe(s, m)
	if err := writeJSON(f.Meta(), m); err != nil {
		return f, m, err
	}
	if s.Kind == "synthetic" {
		return f, m, discard(tree)
	}
	return f, m, nil
}

// ensureUpdate builds the update layer of s from its base's blob.
func ensureUpdate(outDir string, s Spec, f Files, name string, discard func(string) error) (Files, Meta, error) {
	bf, bm, err := Ensure(outDir, s.Base(), discard)
	if err != nil {
		return f, Meta{}, err
	}
	base, err := ReadEntries(bf)
	if err != nil {
		return f, Meta{}, err
	}
	upd := treegen.Update(base, treegen.UpdateOptions{Seed: s.UpdateSeed})
	m, err := Build(f, EntriesTar(upd), s.format(), Meta{Name: name})
	if err != nil {
		return f, m, err
	}
	m.Description = fmt.Sprintf("update of %s by treegen.Update (seed %d): %s. Result: %s",
		bm.Name, s.UpdateSeed, CompareUpdate(base, upd), counts(s, m))
	return f, m, writeJSON(f.Meta(), m)
}

func describe(s Spec, m Meta) string {
	tree, _ := s.treeName() // known good: Ensure named the layer
	what := fmt.Sprintf("the Go toolchain tree %s (%s)", s.GoRoot, strings.TrimPrefix(tree, "goroot-"))
	switch s.Kind {
	case "realistic":
		what = fmt.Sprintf("a toolchain-like tree (treegen.RealisticEntries, seed %d: small text files, a few big binaries)", s.Seed)
	case "synthetic":
		what = "a synthetic toolchain-like tree (treegen.RealisticTree: small text files, a few big binaries; plus zero-run disk images, an all-zero file, symlinks, a hardlink)"
	}
	return what + ": " + counts(s, m)
}

func counts(s Spec, m Meta) string {
	c := m.Counts
	blob := "zstd:chunked blob %.1f MiB (upstream's compressor, default level)"
	if s.format() == FormatGzip {
		blob = "gzip blob %.1f MiB (compress/gzip, default level; no TOC)"
	}
	return fmt.Sprintf("%d entries (%d files, %d dirs, %d symlinks, %d hardlinks), %.1f MiB of file data; tar %.1f MiB, "+blob,
		c.Entries, c.Files, c.Dirs, c.Symlinks, c.Hardlinks, mib(c.FileBytes), mib(m.TarBytes), mib(m.BlobBytes))
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
