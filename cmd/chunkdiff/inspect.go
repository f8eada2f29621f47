package main

import (
	"encoding/json"
	"io"

	"github.com/chunkdiff/chunkdiff/differ"
	"github.com/spf13/cobra"
)

func newInspectCommand() *cobra.Command {
	var (
		lf     layerFlags
		format string
	)
	cmd := &cobra.Command{
		Use:   "inspect BLOB",
		Short: "Load a layer's metadata through range reads and print the differ's state dump",
		Long: `inspect opens a differ on a local layer blob, reading it only through range
requests as a registry would serve them, and prints the diagnostic state dump:
the state reached, every transition with its reason, the context and the
metadata counts. A layer that would fall back to an ordinary pull is not an
error here: the dump says why.`,
		Args: exactArgs("BLOB"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "json" && format != "text" {
				return usagef("--format %q: want json or text", format)
			}
			l, err := lf.load(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer func() { _ = l.file.Close() }()
			ctx := cmd.Context()
			d, openErr := differ.New(ctx, l.differLayer(withStall(ctx, l.file)), l.config(nil))
			if d == nil {
				return explain(ctx, l, openErr)
			}
			dump := d.Dump()
			if err := d.Close(); err != nil {
				return err
			}
			if err := writeDump(cmd.OutOrStdout(), dump, format); err != nil {
				return err
			}
			if openErr != nil && !differ.IsFallback(openErr) {
				return explain(ctx, l, openErr)
			}
			return nil
		},
	}
	lf.register(cmd)
	cmd.Flags().StringVar(&format, "format", "json", "dump format: json or text")
	return cmd
}

func writeDump(w io.Writer, d differ.Dump, format string) error {
	if format == "text" {
		return d.WriteText(w)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}
