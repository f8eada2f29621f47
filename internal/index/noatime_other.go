//go:build !linux

package index

// oNoATime: O_NOATIME is Linux's.
const oNoATime = 0
