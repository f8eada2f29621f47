package layer

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/treegen"
	"golang.org/x/sys/unix"
)

// synthEpoch is the mtime of the extras; whole seconds, as tar keeps them.
var synthEpoch = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// Synthetic writes a deterministic tree under dir (which must not exist):
// treegen.RealisticTree (many small text files, a few big binaries) plus
// what it lacks and real images have: disk images that are mostly zero
// runs, an all-zero file, symlinks and hardlinks.
func Synthetic(dir string, files int, totalBytes int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("synthetic tree: %w", err)
	}
	// The zero-run files take a tenth of the bytes; the rest is realistic.
	zeroBytes := totalBytes / 10
	if err := treegen.RealisticTree(dir, treegen.RealisticOptions{Seed: 1, Files: files, TotalBytes: totalBytes - zeroBytes}); err != nil {
		return err
	}
	rng := rand.New(rand.NewSource(2))
	img := filepath.Join(dir, "var", "lib", "images")
	if err := os.MkdirAll(img, 0o755); err != nil {
		return fmt.Errorf("synthetic tree: %w", err)
	}
	write := func(name string, data []byte) error {
		p := filepath.Join(img, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("synthetic tree: %w", err)
		}
		return os.Chtimes(p, synthEpoch, synthEpoch)
	}
	for i := range 3 {
		if err := write(fmt.Sprintf("disk%d.img", i), zeroRuns(rng, int(zeroBytes/4))); err != nil {
			return err
		}
	}
	if err := write("zeros.bin", make([]byte, zeroBytes/4)); err != nil {
		return err
	}
	// Links into the toolchain-like part, as distributions ship them.
	for link, target := range map[string]string{"var/zeros": "../lib/images/zeros.bin", "disk": "/var/lib/images/disk0.img"} {
		p := filepath.Join(dir, link)
		if err := os.Symlink(target, p); err != nil {
			return fmt.Errorf("synthetic tree: %w", err)
		}
		// A symlink's own mtime goes into the tar too.
		tv := []unix.Timeval{unix.NsecToTimeval(synthEpoch.UnixNano()), unix.NsecToTimeval(synthEpoch.UnixNano())}
		if err := unix.Lutimes(p, tv); err != nil {
			return fmt.Errorf("synthetic tree: %w", err)
		}
	}
	if err := os.Link(filepath.Join(img, "disk1.img"), filepath.Join(img, "disk1.hard")); err != nil {
		return fmt.Errorf("synthetic tree: %w", err)
	}
	for _, d := range []string{img, filepath.Join(dir, "var", "lib"), filepath.Join(dir, "var")} {
		if err := os.Chtimes(d, synthEpoch, synthEpoch); err != nil {
			return fmt.Errorf("synthetic tree: %w", err)
		}
	}
	return nil
}

// zeroRuns is n bytes of long zero runs between random blocks, like a
// sparse disk image: the compressor turns the runs into "zeros" chunks.
func zeroRuns(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for off := 0; off < n; {
		off += 256<<10 + rng.Intn(2<<20) // zero run
		blk := min(4<<10+rng.Intn(64<<10), max(n-off, 0))
		if blk > 0 {
			rng.Read(b[off : off+blk])
		}
		off += blk
	}
	return b
}
