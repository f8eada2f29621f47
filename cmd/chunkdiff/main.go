// Command chunkdiff inspects and pulls zstd:chunked and eStargz layers
// partially, with an explicit, dumpable lifecycle.
package main

import (
	"os"

	"go.podman.io/storage/pkg/reexec"
)

func main() {
	// containers/storage re-executes the binary for some store operations.
	if reexec.Init() {
		return
	}
	ctx, stop := interruptContext()
	err := newRootCommand().ExecuteContext(ctx)
	code := report(ctx, err)
	stop()
	os.Exit(code)
}
