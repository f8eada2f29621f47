package apply

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/formats/toc"
)

// BenchmarkCreateFiles materialises 10k small files in 100 directories,
// the per-entry cost a partial pull of a typical layer pays.
func BenchmarkCreateFiles(b *testing.B) {
	const dirs, perDir = 100, 100
	data := []byte("small file content\n")
	var dirEntries, fileEntries []toc.Entry
	for d := range dirs {
		dirEntries = append(dirEntries, toc.Entry{Type: toc.TypeDir, Name: fmt.Sprintf("d%03d/", d), Mode: 0o755, ModTime: t0})
		for f := range perDir {
			fileEntries = append(fileEntries, toc.Entry{Type: toc.TypeReg, Name: fmt.Sprintf("d%03d/f%03d", d, f),
				Mode: 0o644, Size: int64(len(data)), ModTime: t0.Add(time.Duration(f) * time.Second),
				Xattrs: map[string]string{"user.k": b64("v")}})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		dest := b.TempDir()
		b.StartTimer()
		r, err := Open(dest, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for i := range dirEntries {
			if err := r.Dir(&dirEntries[i]); err != nil {
				b.Fatal(err)
			}
		}
		for i := range fileEntries {
			f, err := r.CreateFile(&fileEntries[i])
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Write(data); err != nil {
				b.Fatal(err)
			}
			if err := r.FinishFile(&fileEntries[i], f); err != nil {
				b.Fatal(err)
			}
		}
		if err := r.FinishDirs(); err != nil {
			b.Fatal(err)
		}
		_ = r.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(fileEntries)), "ns/file")
}

// BenchmarkCreateFilesBaseline is the same tree with plain os calls and no
// attributes: the filesystem's own floor for BenchmarkCreateFiles.
func BenchmarkCreateFilesBaseline(b *testing.B) {
	data := []byte("small file content\n")
	for b.Loop() {
		b.StopTimer()
		dest := b.TempDir()
		b.StartTimer()
		for d := range 100 {
			dir := fmt.Sprintf("%s/d%03d", dest, d)
			if err := os.Mkdir(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			for f := range 100 {
				if err := os.WriteFile(fmt.Sprintf("%s/f%03d", dir, f), data, 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10000), "ns/file")
}
