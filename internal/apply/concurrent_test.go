package apply

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"golang.org/x/sys/unix"
)

// Files are written by several fetcher goroutines at once, racing to create
// the same implicit parents; run with -race.
func TestConcurrentCreate(t *testing.T) {
	requireRoot(t)
	dest := t.TempDir()
	r := mustOpen(t, dest, Options{})
	must(t, r.Dir(&toc.Entry{Type: toc.TypeDir, Name: "top", Mode: 0o711, ModTime: t0}))
	const workers, perWorker = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				e := toc.Entry{Type: toc.TypeReg, Name: fmt.Sprintf("top/a/b%d/w%d-%d", i%5, w, i), Mode: 0o640,
					Size: 1, ModTime: t1}
				f, err := r.CreateFile(&e)
				if err == nil {
					_, err = f.WriteString("x")
					if ferr := r.FinishFile(&e, f); err == nil {
						err = ferr
					}
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	must(t, r.FinishDirs())
	wantStat(t, filepath.Join(dest, "top"), unix.S_IFDIR, 0o711, 0, 0, t0)
	for i := range 5 {
		wantStat(t, filepath.Join(dest, fmt.Sprintf("top/a/b%d", i)), unix.S_IFDIR, implicitDirMode, 0, 0, time.Time{})
	}
	wantStat(t, filepath.Join(dest, "top/a/b3/w7-48"), unix.S_IFREG, 0o640, 0, 0, t1)
}
