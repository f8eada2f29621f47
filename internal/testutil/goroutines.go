package testutil

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// ourFrames mark a goroutine running the module's production code.
var ourFrames = []string{
	"chunkdiff/chunkdiff/differ.", "chunkdiff/chunkdiff/internal/blobstream.", "chunkdiff/chunkdiff/internal/fetch.",
	"chunkdiff/chunkdiff/internal/diffid.", "chunkdiff/chunkdiff/internal/apply.", "chunkdiff/chunkdiff/formats/",
	"chunkdiff/chunkdiff/convert.",
}

// OurGoroutines returns the stacks of goroutines running the module's code,
// test goroutines aside, minus those whose stack contains one of except.
func OurGoroutines(except ...string) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
next:
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "testing.tRunner") || strings.Contains(g, "testing.(*T).Run") {
			continue
		}
		for _, e := range except {
			if strings.Contains(g, e) {
				continue next
			}
		}
		for _, f := range ourFrames {
			if strings.Contains(g, f) {
				out = append(out, g)
				continue next
			}
		}
	}
	return out
}

// WaitNoGoroutines fails the test unless, within a few seconds, no
// goroutine runs the module's code (except stacks containing except).
func WaitNoGoroutines(tb testing.TB, except ...string) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := OurGoroutines(except...)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d goroutines left behind:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
