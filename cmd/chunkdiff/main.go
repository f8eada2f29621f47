// Command chunkdiff inspects and pulls zstd:chunked and eStargz layers
// partially, with an explicit, dumpable lifecycle.
package main

import (
	"fmt"
	"os"

	"go.podman.io/storage/pkg/reexec"
)

func main() {
	// containers/storage re-executes the binary for some store operations.
	if reexec.Init() {
		return
	}
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "chunkdiff:", err)
		os.Exit(1)
	}
}
