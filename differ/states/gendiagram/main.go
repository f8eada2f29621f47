// Command gendiagram rewrites the lifecycle diagram in a Markdown file from
// the state table, between the markers defined in package states.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/chunkdiff/chunkdiff/differ/states"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendiagram FILE.md")
		os.Exit(2)
	}
	if err := rewrite(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gendiagram:", err)
		os.Exit(1)
	}
}

func rewrite(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc := string(raw)
	begin := strings.Index(doc, states.DiagramBegin)
	end := strings.Index(doc, states.DiagramEnd)
	if begin < 0 || end < begin {
		return fmt.Errorf("%s: diagram markers not found", path)
	}
	head := doc[:begin+len(states.DiagramBegin)]
	out := head + "\n" + states.DiagramBlock() + doc[end:]
	return os.WriteFile(path, []byte(out), 0o644)
}
