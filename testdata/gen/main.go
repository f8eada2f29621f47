// Command gen writes the demo layer pair under testdata/demo: two versions
// of a small tree compressed with upstream's zstd:chunked writer. Run it from
// the module root with `go run ./testdata/gen`. Output is deterministic.
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"time"

	"go.podman.io/storage/pkg/chunked/compressor"
)

type file struct {
	data []byte
	mode int64
}

func main() {
	out := flag.String("out", "testdata/demo", "output directory")
	flag.Parse()
	base := baseTree()
	update := updateTree(base)
	for name, tree := range map[string]map[string]file{"base": base, "update": update} {
		if err := write(*out, name, tree); err != nil {
			log.Fatal(err)
		}
	}
}

var epoch = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

// baseTree is ~200 small text files plus a few incompressible binaries.
func baseTree() map[string]file {
	rng := rand.New(rand.NewSource(20240601))
	t := map[string]file{}
	words := []string{"alpha", "beta", "gamma", "delta", "config", "module", "handler", "server", "client", "cache"}
	for i := 0; i < 200; i++ {
		var b bytes.Buffer
		for b.Len() < 500+rng.Intn(12000) {
			fmt.Fprintf(&b, "%s %s %d\n", words[rng.Intn(len(words))], words[rng.Intn(len(words))], rng.Intn(1000))
		}
		name := fmt.Sprintf("app/%s/%s-%03d.txt", words[i%len(words)], words[(i/10)%len(words)], i)
		t[name] = file{b.Bytes(), 0o644}
	}
	for i := 0; i < 4; i++ {
		bin := make([]byte, 256<<10+rng.Intn(128<<10))
		rng.Read(bin)
		t[fmt.Sprintf("bin/tool%d", i)] = file{bin, 0o755}
	}
	t["etc/app.conf"] = file{[]byte("listen = :8080\nversion = 1\n"), 0o644}
	return t
}

// updateTree changes a few files, adds and removes some.
func updateTree(base map[string]file) map[string]file {
	rng := rand.New(rand.NewSource(20240602))
	t := map[string]file{}
	for k, v := range base {
		t[k] = v
	}
	names := sortedNames(base)
	for _, n := range names[:8] { // removed
		delete(t, n)
	}
	for _, n := range names[50:55] { // changed text
		t[n] = file{append(bytes.Clone(base[n].data), "changed in update\n"...), 0o644}
	}
	bin := bytes.Clone(base["bin/tool1"].data) // one binary patched in the middle
	rng.Read(bin[100<<10 : 110<<10])
	t["bin/tool1"] = file{bin, 0o755}
	t["etc/app.conf"] = file{[]byte("listen = :8080\nversion = 2\n"), 0o644}
	for i := 0; i < 10; i++ { // added
		b := make([]byte, 2000+rng.Intn(4000))
		rng.Read(b)
		t[fmt.Sprintf("app/new/added-%02d.dat", i)] = file{b, 0o644}
	}
	return t
}

func sortedNames(t map[string]file) []string {
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// tarOf lays the tree out with parent directories first, sorted by name.
func tarOf(t map[string]file) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for i, n := range sortedNames(t) {
		var parents []string
		for d := filepath.Dir(n); d != "."; d = filepath.Dir(d) {
			parents = append([]string{d}, parents...)
		}
		for _, d := range parents {
			if dirs[d] {
				continue
			}
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch}); err != nil {
				return nil, err
			}
		}
		f := t[n]
		h := &tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: f.mode, Size: int64(len(f.data)), ModTime: epoch.Add(time.Duration(i) * time.Second)}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func write(dir, name string, tree map[string]file) error {
	tarBytes, err := tarOf(tree)
	if err != nil {
		return fmt.Errorf("%s: tar: %w", name, err)
	}
	var blob bytes.Buffer
	ann := map[string]string{}
	w, err := compressor.ZstdCompressor(&blob, ann, nil)
	if err != nil {
		return fmt.Errorf("%s: compressor: %w", name, err)
	}
	if _, err := w.Write(tarBytes); err != nil {
		return fmt.Errorf("%s: compress: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("%s: compress: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".tar.zst"), blob.Bytes(), 0o644); err != nil {
		return err
	}
	j, err := json.MarshalIndent(ann, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".annotations.json"), append(j, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("%s: %d files, tar %d bytes, blob %d bytes\n", name, len(tree), len(tarBytes), blob.Len())
	return nil
}
