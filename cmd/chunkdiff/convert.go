package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/chunkdiff/chunkdiff/convert"
	"github.com/chunkdiff/chunkdiff/formats/zstdchunked"
	"github.com/spf13/cobra"
)

func newConvertCommand() *cobra.Command {
	var (
		annPath string
		level   int
	)
	cmd := &cobra.Command{
		Use:   "convert IN OUT",
		Short: "Convert any layer blob (tar, gzip, zstd) into a zstd:chunked blob and its annotations",
		Long: `convert reads a layer blob in any of tar, gzip or zstd (detected, not assumed)
and writes a zstd:chunked blob that any zstd decoder reads as the same tar, plus
the layer annotations that locate and authenticate its TOC (JSON, default
OUT with its extension replaced by .annotations.json). The result is ready to
push and can be pulled partially.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) (retErr error) {
			in, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			tmp, err := os.CreateTemp(filepath.Dir(args[1]), ".chunkdiff-convert-")
			if err != nil {
				return err
			}
			defer func() {
				if retErr != nil {
					_ = tmp.Close()
					_ = os.Remove(tmp.Name())
				}
			}()
			res, comp, err := convert.Publish(tmp, in, zstdchunked.WithLevel(level))
			if err != nil {
				return err
			}
			if err := tmp.Close(); err != nil {
				return err
			}
			if annPath == "" {
				annPath = defaultAnnotationsPath(args[1])
			}
			raw, err := json.MarshalIndent(res.Annotations.Map(), "", "  ")
			if err != nil {
				return err
			}
			if err := os.WriteFile(annPath, append(raw, '\n'), 0o644); err != nil {
				return err
			}
			if err := os.Rename(tmp.Name(), args[1]); err != nil {
				return errors.Join(err, os.Remove(annPath))
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s (%s) -> %s: %d B, %d entries, DiffID %s\nannotations: %s\n",
				args[0], comp, args[1], res.BlobSize, res.Entries, res.DiffID, annPath)
			return err
		},
	}
	cmd.Flags().StringVar(&annPath, "annotations", "", "where to write the annotations JSON")
	cmd.Flags().IntVar(&level, "level", zstdchunked.DefaultLevel, "zstd compression level")
	return cmd
}
