package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// peakRSSKiB is VmHWM from /proc/self/status: the high-water mark of this
// process's own address space. getrusage's ru_maxrss is not usable alone:
// Linux carries it across execve, and Go starts children with
// CLONE_VM|CLONE_VFORK, so a child inherits its launcher's peak (a harness
// that generated a layer in memory would make every pull look that big).
func peakRSSKiB() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("peak RSS: VmHWM %q: %w", v, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("peak RSS: no VmHWM in /proc/self/status: %v", sc.Err())
}
