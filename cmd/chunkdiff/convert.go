package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/chunkdiff/chunkdiff/convert"
	"github.com/chunkdiff/chunkdiff/formats/zstdchunked"
	"github.com/spf13/cobra"
)

// outputMode is the mode of the files convert writes (blob and annotations
// alike), before the umask, as other tools write files meant to be shared.
const outputMode = 0o644

func newConvertCommand() *cobra.Command {
	var (
		annPath string
		level   int
		pf      progressFlags
	)
	cmd := &cobra.Command{
		Use:   "convert IN OUT",
		Short: "Convert any layer blob (tar, gzip, zstd) into a zstd:chunked blob and its annotations",
		Long: `convert reads a layer blob in any of tar, gzip or zstd (detected, not assumed)
and writes a zstd:chunked blob that any zstd decoder reads as the same tar, plus
the layer annotations that locate and authenticate its TOC (JSON, default
OUT with its extension replaced by .annotations.json). The result is ready to
push and can be pulled partially. Both files are written whole or not at all:
on a failure or an interrupt nothing is left in OUT's directory.`,
		Args: exactArgs("IN", "OUT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if level < 1 || level > 22 {
				return usagef("--level %d: want a zstd level from 1 (fastest) to 22 (smallest)", level)
			}
			in, out := args[0], args[1]
			if annPath == "" {
				annPath = defaultAnnotationsPath(out)
			}
			for _, p := range []string{out, annPath} {
				if st, err := os.Stat(filepath.Dir(p)); err != nil || !st.IsDir() {
					return usagef("cannot write %s: directory %s does not exist", p, filepath.Dir(p))
				}
			}
			return convertFile(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &pf, in, out, annPath, level)
		},
	}
	cmd.Flags().StringVar(&annPath, "annotations", "", "where to write the annotations JSON (default: OUT with its extension replaced by .annotations.json)")
	cmd.Flags().IntVar(&level, "level", zstdchunked.DefaultLevel, "zstd compression level, 1 (fastest) to 22 (smallest)")
	pf.registerProgress(cmd)
	return cmd
}

// convertFile writes both outputs to temporary files beside them and
// renames them into place only once both are complete.
func convertFile(ctx context.Context, stdout, stderr io.Writer, pf *progressFlags, inPath, out, annPath string, level int) (retErr error) {
	in, err := os.Open(inPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("layer blob %s: no such file", inPath)
		}
		return err
	}
	defer in.Close()
	var temps []string
	defer func() {
		if retErr != nil {
			for _, t := range temps {
				if err := os.Remove(t); err != nil && !errors.Is(err, os.ErrNotExist) {
					retErr = errors.Join(retErr, cleanupError{err})
				}
			}
		}
	}()
	tmp, err := createTemp(out, &temps)
	if err != nil {
		return err
	}
	defer tmp.Close()
	var total int64
	if st, err := in.Stat(); err == nil {
		total = st.Size()
	}
	cr := &countingReader{r: ctxReader{ctx, in}}
	stop := pf.start(stderr, func() string {
		return fmt.Sprintf("%s: read %s of %s (%s)", inPath, size(cr.n.Load()), size(total), percent(cr.n.Load(), total))
	})
	res, comp, err := convert.Publish(tmp, withStallReader(ctx, cr), zstdchunked.WithLevel(level))
	stop()
	if err != nil {
		return fmt.Errorf("%s: %w", inPath, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(res.Annotations.Map(), "", "  ")
	if err != nil {
		return err
	}
	annTmp, err := createTemp(annPath, &temps)
	if err != nil {
		return err
	}
	_, err = annTmp.Write(append(raw, '\n'))
	if cerr := annTmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Rename(annTmp.Name(), annPath); err != nil {
		return err
	}
	temps = append(temps[:1], annPath) // from here a failure removes the annotations written
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s (%s) -> %s: %s, %s, DiffID %s\nannotations: %s\n",
		inPath, comp, out, size(res.BlobSize), plural(res.Entries, "entry", "entries"), res.DiffID, annPath)
	return err
}

// createTemp creates a temporary file beside path with outputMode, and
// records it in temps.
func createTemp(path string, temps *[]string) (*os.File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".chunkdiff-convert-")
	if err != nil {
		return nil, fmt.Errorf("cannot write %s: %w", path, err)
	}
	*temps = append(*temps, f.Name())
	if err := f.Chmod(outputMode &^ umask()); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return f, nil
}

// countingReader counts the bytes read, for progress.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
