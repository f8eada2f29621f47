// Command chunkdiff inspects and pulls zstd:chunked and eStargz layers
// partially, with an explicit, dumpable lifecycle.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "chunkdiff:", err)
		os.Exit(1)
	}
}
