package index

import "golang.org/x/sys/unix"

// oNoATime keeps hashing a layer from touching its files' access times.
const oNoATime = unix.O_NOATIME
