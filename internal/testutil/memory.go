package testutil

import "runtime"

// HeapInUse collects garbage and returns the heap in use: what memory
// tests compare between a small and a large input.
func HeapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
