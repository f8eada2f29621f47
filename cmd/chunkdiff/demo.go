package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func newDemoCommand() *cobra.Command {
	var (
		dir  string
		keep bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Pull the demo layer pair (testdata/demo) into a temporary overlay store",
		Long: `demo pulls testdata/demo/base.tar.zst and then update.tar.zst on top of it
into a fresh temporary overlay store, printing what each pull fetched and the
final state dump of the update. The store is removed afterwards (--keep keeps it).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkRoot("demo (it pulls into an overlay store)"); err != nil {
				return err
			}
			root, err := os.MkdirTemp("", "chunkdiff-demo-")
			if err != nil {
				return err
			}
			if keep {
				if _, err := fmt.Fprintf(cmd.OutOrStdout(), "store: %s\n", root); err != nil {
					return err
				}
			} else {
				defer func() { _ = os.RemoveAll(root) }()
			}
			var lf layerFlags
			parent := ""
			for _, name := range []string{"base", "update"} {
				l, err := lf.load(cmd.Context(), filepath.Join(dir, name+".tar.zst"))
				if err != nil {
					return err
				}
				res, err := pullLayer(cmd.Context(), l, "", root, parent)
				_ = l.file.Close()
				if err != nil {
					return err
				}
				if err := printSummary(cmd.OutOrStdout(), res); err != nil {
					return err
				}
				parent = res.layerID
				if name == "update" {
					if _, err := fmt.Fprintln(cmd.OutOrStdout(), "\nstate dump of the update:"); err != nil {
						return err
					}
					return res.dump.WriteText(cmd.OutOrStdout())
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "testdata/demo", "directory with base/update .tar.zst and .annotations.json")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary store and print its path")
	return cmd
}
