package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// trash holds stores moved out of the way. On ext4, creating files soon
// after deleting a large tree costs seconds of kernel time, which would land
// in the next measured pull; so stores are renamed here (cheap) and only
// deleted once nothing is measured any more.
//
// The cost is ext4's inode allocator skipping inodes freed less than
// RECENTCY_MIN (60 s) ago, or RECENTCY_DIRTY+RECENTCY_MIN (360 s) while
// their inode table block is still dirty (fs/ext4/ialloc.c,
// recently_deleted; only without a journal, as here): perf shows half of a
// pull's time in find_inode_bit → recently_deleted then. Measured here, a
// pull 100 s after deleting and syncing still paid 6-10 s of system time, at
// 367 s none. So empty records when it deleted, and settle makes the next
// run wait out the window.
type trash struct {
	dir string
	n   int
}

// stampFile records when the trash was last emptied.
func (t *trash) stampFile() string { return filepath.Join(filepath.Dir(t.dir), "trash.deleted") }

// settle waits until window has passed since the trash was last emptied.
func (t *trash) settle(window time.Duration, logf func(string, ...any)) {
	fi, err := os.Stat(t.stampFile())
	if err != nil {
		return
	}
	if wait := time.Until(fi.ModTime().Add(window)); wait > 0 {
		logf("old stores were deleted %s ago; waiting %s for ext4 to stop skipping their inodes", time.Since(fi.ModTime()).Round(time.Second), wait.Round(time.Second))
		time.Sleep(wait)
	}
}

// moveAside renames path into the trash (same filesystem: a rename).
func (t *trash) moveAside(path string) error {
	if err := os.MkdirAll(t.dir, 0o755); err != nil {
		return fmt.Errorf("trash: %w", err)
	}
	t.n++
	dst := filepath.Join(t.dir, fmt.Sprintf("%d-%d-%s", os.Getpid(), t.n, filepath.Base(path)))
	if err := os.Rename(path, dst); err != nil {
		return fmt.Errorf("trash: %w", err)
	}
	return nil
}

// empty deletes the trash, leftovers of interrupted runs included, after
// detaching anything still mounted under it (a pull that crashed before
// its store shut down), so the deletion cannot reach through a mount.
func (t *trash) empty() error {
	if err := unmountUnder(t.dir); err != nil {
		return err
	}
	if _, err := os.Stat(t.dir); os.IsNotExist(err) {
		return nil
	}
	// The stamp is written even when the deletion failed half-way: what
	// was deleted still slows ext4 down, and the next run must wait.
	rmErr := os.RemoveAll(t.dir)
	unix.Sync()
	if err := os.WriteFile(t.stampFile(), nil, 0o644); err != nil {
		return fmt.Errorf("empty trash: %w", err)
	}
	if rmErr != nil {
		return fmt.Errorf("empty trash: %w", rmErr)
	}
	return nil
}

// unmountUnder lazily unmounts every mount point below dir, deepest first.
func unmountUnder(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("unmount: %w", err)
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("unmount: %w", err)
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// Field 5 is the mount point (octal escapes aside, which our
		// paths do not contain).
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], abs+"/") {
			points = append(points, fields[4])
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("unmount: %w", err)
	}
	for i := len(points) - 1; i >= 0; i-- {
		if err := unix.Unmount(points[i], unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", points[i], err)
		}
	}
	return nil
}
