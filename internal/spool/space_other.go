//go:build !linux && !darwin && !freebsd

package spool

// freeBytes cannot tell here; the spool's own write errors remain.
func freeBytes(string) (uint64, bool, error) { return 0, false, nil }
