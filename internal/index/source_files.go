package index

import (
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// walkedFile is one regular file found by the walk, hashed by a worker.
type walkedFile struct {
	seq  int
	rel  string
	size int64
	d    digest.Digest
}

// buildFromFiles hashes every regular file under dir (whole-file records
// only: no TOC, so no chunk boundaries). Files are hashed by GOMAXPROCS
// workers; a file that vanishes or cannot be read is skipped, a walk error
// at the root fails the layer. Hard links are hashed once.
//
// Memory: one walkedFile per regular file until the records are built.
func buildFromFiles(dir string) (*builder, error) {
	if _, err := os.Lstat(dir); err != nil {
		return nil, err
	}
	type inode struct{ dev, ino uint64 }
	var (
		files []walkedFile
		links = map[inode]int{} // multiply-linked inodes → first file
		alias = map[int]int{}   // file → the file it is a link of
	)
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // a subtree vanished or is unreadable: index the rest
		}
		if !de.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil
		}
		rel, ok := layerPath(rel)
		if !ok {
			return nil
		}
		fi, err := de.Info()
		if err != nil || fi.Size() == 0 {
			return nil
		}
		seq := len(files)
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			k := inode{uint64(st.Dev), st.Ino}
			if first, seen := links[k]; seen {
				alias[seq] = first
			} else {
				links[k] = seq
			}
		}
		files = append(files, walkedFile{seq: seq, rel: rel, size: fi.Size()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	hashAll(dir, files, alias)
	b := &builder{}
	for i := range files {
		f := &files[i]
		if a, ok := alias[i]; ok {
			f.d = files[a].d
		}
		if f.d == "" {
			b.skipped++
			continue
		}
		b.add(f.d, f.rel, 0, f.size, true)
	}
	return b, nil
}

// hashAll fills in the digests of files that are not aliases.
func hashAll(dir string, files []walkedFile, alias map[int]int) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			buf := make([]byte, 256<<10)
			for i := range work {
				files[i].d = hashFile(filepath.Join(dir, files[i].rel), files[i].size, buf)
			}
		})
	}
	for i := range files {
		if _, ok := alias[i]; !ok {
			work <- i
		}
	}
	close(work)
	wg.Wait()
}

// hashFile returns the sha256 of the file, or "" if it cannot be read or no
// longer has the size the walk saw (it is being changed: do not index it).
func hashFile(p string, size int64, buf []byte) digest.Digest {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|oNoATime, 0)
	if errors.Is(err, unix.EPERM) {
		// O_NOATIME needs ownership or CAP_FOWNER.
		f, err = os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	}
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, io.LimitReader(f, size+1), buf)
	if err != nil || n != size {
		return ""
	}
	return digest.NewDigest(digest.SHA256, h)
}
