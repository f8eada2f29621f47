package main

import (
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is stamped by the Makefile (-ldflags -X main.version=...); a
// plain `go install` falls back to the module version.
var version = ""

func versionString() string {
	v := version
	if v == "" {
		v = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
	}
	return v
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "chunkdiff",
		Short: "Partial pulls of zstd:chunked and eStargz container layers",
		Long: `chunkdiff pulls zstd:chunked and eStargz container layers partially, with an
explicit, dumpable lifecycle.

Exit status: 0 on success, 1 when the work failed, 2 for a wrong command line
(nothing was done), 128+N when interrupted by signal N (130 for Ctrl-C), after
removing what the command had written.`,
		Version: versionString(),
		// Runnable so that an unknown command is a usage error (exit 2)
		// rather than the help text with exit 0.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q (see chunkdiff --help)", args[0])
			}
			return nil
		},
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("chunkdiff version {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newInspectCommand(), newApplyCommand(), newConvertCommand(), newDemoCommand(), newPullCommand(), newPullDemoCommand())
	return root
}

// exactArgs is cobra.ExactArgs with a usage error naming the operands.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef("%s takes %s, got %s (see %s --help)", cmd.Name(),
				plural(len(names), "operand", "operands")+" ("+strings.Join(names, " ")+")", plural(len(args), "operand", "operands"), cmd.CommandPath())
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) != 0 {
		return usagef("%s takes no operands; got %q", cmd.Name(), args)
	}
	return nil
}
