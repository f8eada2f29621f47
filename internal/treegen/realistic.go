package treegen

import (
	"archive/tar"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// RealisticOptions sizes a RealisticTree.
type RealisticOptions struct {
	Seed       int64
	Files      int   // regular files; default 2000
	TotalBytes int64 // total file bytes, approximately; default 64 MiB
}

func (o RealisticOptions) withDefaults() RealisticOptions {
	if o.Files <= 0 {
		o.Files = 2000
	}
	if o.TotalBytes <= 0 {
		o.TotalBytes = 64 << 20
	}
	return o
}

// planned is one file of a realistic tree, content generated on demand so
// big trees need not sit in memory.
type planned struct {
	name   string
	size   int64
	binary bool
	seed   int64
	mode   int64
}

// planRealistic lays out a toolchain-like tree: about 1% big binaries
// holding 60% of the bytes, the rest small text files with a log-uniform
// size distribution, about 25 files per directory, three levels deep.
func planRealistic(o RealisticOptions) (dirs []string, files []planned) {
	rng := rand.New(rand.NewSource(o.Seed))
	nBin := max(1, o.Files/100)
	nText := o.Files - nBin
	binBytes := o.TotalBytes * 6 / 10
	if nText == 0 {
		binBytes = o.TotalBytes
	}
	weights := make([]float64, nBin)
	var wsum float64
	for i := range weights {
		weights[i] = 0.2 + rng.Float64()
		wsum += weights[i]
	}
	dirs = append(dirs, "bin", "pkg", "pkg/tool")
	for i := range weights {
		dir := "bin"
		if i%2 == 1 {
			dir = "pkg/tool"
		}
		files = append(files, planned{
			name: fmt.Sprintf("%s/tool%03d", dir, i), size: int64(weights[i] / wsum * float64(binBytes)),
			binary: true, seed: rng.Int63(), mode: 0o755,
		})
	}
	raw := make([]float64, nText)
	var rsum float64
	for i := range raw {
		raw[i] = math.Exp(math.Log(64) + rng.Float64()*(math.Log(32<<10)-math.Log(64)))
		rsum += raw[i]
	}
	scale := float64(o.TotalBytes-binBytes) / max(rsum, 1)
	seen := map[string]bool{"bin": true, "pkg": true, "pkg/tool": true}
	exts := []string{".go", ".go", ".go", ".s", ".txt", ".json", ".h"}
	for i := range raw {
		dir := fmt.Sprintf("src/%s/%s/%s", word(i/2000), word(i/200), word(i/25))
		for d := dir; d != "."; d = path.Dir(d) {
			if !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
		files = append(files, planned{
			name: fmt.Sprintf("%s/%s_%d%s", dir, word(rng.Intn(1000)), i, exts[rng.Intn(len(exts))]),
			size: int64(raw[i] * scale), seed: rng.Int63(), mode: 0o644,
		})
	}
	return sortParentsFirst(dirs), files
}

var syllables = []string{"net", "http", "io", "fmt", "os", "sync", "time", "str", "conv", "crypto", "tls", "rand", "sort", "bytes", "text", "tmpl", "json", "xml", "sql", "log"}

// word names directory n deterministically.
func word(n int) string {
	return syllables[n%len(syllables)] + syllables[(n/len(syllables))%len(syllables)]
}

func sortParentsFirst(dirs []string) []string {
	out := append([]string(nil), dirs...)
	// Stable insertion by depth keeps generation order within a level.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && strings.Count(out[j], "/") < strings.Count(out[j-1], "/"); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// textCorpus is Go-like text; small files are windows into it, so they
// compress like source code and share content across files.
var textCorpus = func() []byte {
	rng := rand.New(rand.NewSource(42))
	kw := []string{"func", "return", "if err != nil {", "}", "for i := range", "var", "type", "struct {", "package", "import", "//", "defer", "go", "chan", "select {", "case", "default:", "nil", "err", "ctx"}
	var b strings.Builder
	for b.Len() < 1<<20 {
		b.WriteString(strings.Repeat("\t", rng.Intn(4)))
		for n := 1 + rng.Intn(8); n > 0; n-- {
			b.WriteString(kw[rng.Intn(len(kw))])
			b.WriteByte(' ')
			b.WriteString(syllables[rng.Intn(len(syllables))])
			b.WriteByte(' ')
		}
		b.WriteByte('\n')
	}
	return []byte(b.String())
}()

func (p planned) content() []byte {
	rng := rand.New(rand.NewSource(p.seed))
	b := make([]byte, 0, p.size)
	if !p.binary {
		b = append(b, fmt.Sprintf("// %s\n", p.name)...)
		for int64(len(b)) < p.size {
			off := rng.Intn(len(textCorpus) - 4096)
			b = append(b, textCorpus[off:off+1+rng.Intn(4095)]...)
		}
		return b[:p.size]
	}
	// Binaries: random code-like blocks, embedded strings, zero padding.
	for int64(len(b)) < p.size {
		switch rng.Intn(4) {
		case 0, 1:
			blk := make([]byte, 4<<10+rng.Intn(60<<10))
			rng.Read(blk)
			b = append(b, blk...)
		case 2:
			off := rng.Intn(len(textCorpus) - 32<<10)
			b = append(b, textCorpus[off:off+rng.Intn(32<<10)]...)
		case 3:
			b = append(b, make([]byte, rng.Intn(16<<10))...)
		}
	}
	return b[:p.size]
}

// RealisticEntries returns a RealisticTree as tar entries, in memory.
func RealisticEntries(o RealisticOptions) []Entry {
	o = o.withDefaults()
	dirs, files := planRealistic(o)
	var out []Entry
	for i, d := range dirs {
		out = append(out, Entry{Header: &tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: Epoch.Add(time.Duration(i) * time.Minute)}})
	}
	for i, f := range files {
		out = append(out, Entry{
			Header: &tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, ModTime: Epoch.Add(time.Duration(i) * time.Second)},
			Data:   f.content(),
		})
	}
	return out
}

// RealisticTree writes a deterministic toolchain-like tree under dir (which
// must exist) for benchmarks: many small text files and a few big binaries.
// Files are generated one at a time, so large trees stay cheap in memory.
func RealisticTree(dir string, o RealisticOptions) error {
	o = o.withDefaults()
	dirs, files := planRealistic(o)
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("realistic tree: %w", err)
		}
	}
	for i, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.content(), os.FileMode(f.mode)); err != nil {
			return fmt.Errorf("realistic tree: %w", err)
		}
		mt := Epoch.Add(time.Duration(i) * time.Second)
		if err := os.Chtimes(p, mt, mt); err != nil {
			return fmt.Errorf("realistic tree: %w", err)
		}
	}
	// Directory mtimes last, after their contents were written.
	for i := len(dirs) - 1; i >= 0; i-- {
		mt := Epoch.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(filepath.Join(dir, dirs[i]), mt, mt); err != nil {
			return fmt.Errorf("realistic tree: %w", err)
		}
	}
	return nil
}
