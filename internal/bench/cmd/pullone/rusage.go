package main

import (
	"time"

	"golang.org/x/sys/unix"
)

// rusage reads getrusage for who (RUSAGE_SELF covers every thread).
func rusage(who int) unix.Rusage {
	var ru unix.Rusage
	_ = unix.Getrusage(who, &ru) // cannot fail for SELF and CHILDREN
	return ru
}

func seconds(tv unix.Timeval) float64 {
	return time.Duration(tv.Nano()).Seconds()
}

// cpuDelta is user and system seconds spent between two readings.
func cpuDelta(before, after unix.Rusage) (user, sys float64) {
	return seconds(after.Utime) - seconds(before.Utime), seconds(after.Stime) - seconds(before.Stime)
}
