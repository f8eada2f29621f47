package main

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// umask is the process umask, read once (reading it means setting it).
var umask = sync.OnceValue(func() os.FileMode {
	m := unix.Umask(0)
	unix.Umask(m)
	return os.FileMode(m)
})
