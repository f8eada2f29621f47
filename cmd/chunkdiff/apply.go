package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/chunkdiff/chunkdiff/differ"
	"github.com/chunkdiff/chunkdiff/internal/source"
	"github.com/spf13/cobra"
	storage "go.podman.io/storage"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/stringid"
)

type applyFlags struct {
	layerFlags
	dest   string
	store  string
	parent string
	dump   bool
	format string
}

func newApplyCommand() *cobra.Command {
	var f applyFlags
	cmd := &cobra.Command{
		Use:   "apply BLOB (--dest DIR | --store ROOT)",
		Short: "Pull a layer partially, into a directory or into a containers/storage overlay store",
		Long: `apply pulls a layer blob through range requests, as from a registry, and
materialises it: into a plain directory (--dest), or into a real overlay store
(--store) through PrepareStagedLayer and ApplyStagedLayer, like podman does.
It prints a summary (state, bytes and requests fetched, files, layer ID,
DiffID) and, with --dump, the final state dump.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (f.dest == "") == (f.store == "") {
				return errors.New("give exactly one of --dest and --store")
			}
			if f.format != "json" && f.format != "text" {
				return fmt.Errorf("--format %q: want json or text", f.format)
			}
			l, err := f.load(args[0])
			if err != nil {
				return err
			}
			res, err := pullLayer(cmd.Context(), l, f.dest, f.store, f.parent)
			if res.dump != nil {
				if perr := printSummary(cmd.OutOrStdout(), res); perr != nil {
					return errors.Join(err, perr)
				}
				if f.dump {
					if derr := writeDump(cmd.OutOrStdout(), *res.dump, f.format); derr != nil {
						return errors.Join(err, derr)
					}
				}
			}
			return err
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&f.dest, "dest", "", "apply into this directory (created if missing)")
	cmd.Flags().StringVar(&f.store, "store", "", "apply into an overlay store rooted here (created if missing)")
	cmd.Flags().StringVar(&f.parent, "parent", "", "parent layer ID in the store")
	cmd.Flags().BoolVar(&f.dump, "dump", false, "print the final state dump")
	cmd.Flags().StringVar(&f.format, "format", "text", "dump format: json or text")
	return cmd
}

// pullResult is what one pull did.
type pullResult struct {
	blob    string
	layerID string
	dump    *differ.Dump
}

// pullLayer pulls l into dest (a directory) or into the store at storeRoot.
func pullLayer(ctx context.Context, l *layer, dest, storeRoot, parent string) (pullResult, error) {
	res := pullResult{blob: l.path}
	src, err := source.OpenFile(l.path)
	if err != nil {
		return res, err
	}
	defer func() { _ = src.Close() }()

	if dest != "" {
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return res, err
		}
		d, err := differ.New(ctx, l.differLayer(src), l.config(nil))
		if d == nil {
			return res, err
		}
		defer func() { _ = d.Close() }()
		if err == nil {
			var out graphdriver.DriverWithDifferOutput
			out, err = d.ApplyDiff(dest, &archive.TarOptions{}, &graphdriver.DifferOptions{})
			closeQuietly(out.TarSplit)
		}
		dump := d.Dump()
		res.dump = &dump
		return res, err
	}

	store, err := openStore(storeRoot, l.pullMap)
	if err != nil {
		return res, err
	}
	defer func() { _, _ = store.Shutdown(false) }()
	d, err := differ.New(ctx, l.differLayer(src), l.config(store))
	if d == nil {
		return res, err
	}
	defer func() { _ = d.Close() }()
	if err == nil {
		var out *graphdriver.DriverWithDifferOutput
		out, err = store.PrepareStagedLayer(nil, d)
		if err != nil {
			if out != nil {
				_ = store.CleanupStagedLayer(out)
			}
		} else {
			var layer *storage.Layer
			layer, err = store.ApplyStagedLayer(storage.ApplyStagedLayerOptions{
				ID: stringid.GenerateRandomID(), ParentLayer: parent, DiffOutput: out,
				DiffOptions: &graphdriver.ApplyDiffWithDifferOpts{},
			})
			if err != nil {
				_ = store.CleanupStagedLayer(out)
			} else {
				res.layerID = layer.ID
			}
		}
	}
	dump := d.Dump()
	res.dump = &dump
	return res, err
}

func closeQuietly(c io.Closer) {
	if c != nil && c != (*os.File)(nil) {
		_ = c.Close()
	}
}

func printSummary(out io.Writer, r pullResult) error {
	var w strings.Builder
	d := r.dump
	fmt.Fprintf(&w, "%s: %s", r.blob, d.State)
	if d.Reason != nil {
		fmt.Fprintf(&w, " (%s)", d.Reason)
	}
	w.WriteString("\n")
	if d.Metadata != nil {
		fmt.Fprintf(&w, "  content: %d entries, %d regular files, %d B uncompressed\n",
			d.Metadata.Entries, d.Metadata.RegularFiles, d.Metadata.UncompressedSize)
	}
	if a := d.Apply; a != nil {
		var blobSize int64
		if d.Context != nil {
			blobSize = d.Context.BlobSize
		}
		fmt.Fprintf(&w, "  fetched: %d of %d B (%s) in %d requests, %d ranges\n",
			a.BytesFetched, blobSize, percent(a.BytesFetched, blobSize), a.Requests, a.Ranges)
		fmt.Fprintf(&w, "  written: %d files, %d B (+%d B holes) in %.2fs\n", a.FilesFetched, a.BytesWritten, a.HoleBytes, a.Seconds)
		fmt.Fprintf(&w, "  reused:  %d files linked, %d copied, %d chunks (%d B) from the store\n",
			a.Reuse.FilesLinked, a.Reuse.FilesCopied, a.Reuse.ChunksLocal, a.LocalChunkBytes)
		fmt.Fprintf(&w, "  skipped: %d B = %s (lower bound: %d B must be fetched)\n", a.Skipped, percent(a.Skipped, blobSize), a.Reuse.LowerBound)
		if a.UncompressedDigest != "" {
			fmt.Fprintf(&w, "  diffid:  %s\n", a.UncompressedDigest)
		}
	}
	if r.layerID != "" {
		fmt.Fprintf(&w, "  id:      %s\n", r.layerID)
	}
	if d.Error != "" {
		fmt.Fprintf(&w, "  error:   %s\n", d.Error)
	}
	_, err := io.WriteString(out, w.String())
	return err
}

func percent(n, total int64) string {
	if total <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(total))
}
