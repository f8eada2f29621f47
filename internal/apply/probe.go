//go:build linux

package apply

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// Supported reports whether this kernel can confine a layer's writes: every
// path is resolved with openat2 (Linux 5.6 and later), and there is no
// equally safe userspace fallback. It probes once; the error says why not.
var Supported = sync.OnceValue(func() error {
	fd, err := openat2(unix.AT_FDCWD, "/", unix.O_PATH|unix.O_DIRECTORY, resolveFlags)
	if err != nil {
		return fmt.Errorf("openat2 (Linux 5.6 or later) is needed to apply layers safely: %w", err)
	}
	_ = unix.Close(fd)
	return nil
})
