package main

import (
	"github.com/spf13/cobra"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "chunkdiff",
		Short:         "Partial pulls of zstd:chunked and eStargz container layers",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newInspectCommand(), newApplyCommand(), newConvertCommand(), newDemoCommand(), newPullCommand(), newPullDemoCommand())
	return root
}
