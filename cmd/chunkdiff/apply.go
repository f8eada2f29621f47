package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/chunkdiff/chunkdiff/differ"
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
	progressFlags
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
DiffID) and, with --dump, the final state dump.

--dest must be a new or empty directory: apply refuses to write into one that
holds anything. Applying needs root (it sets file owners); --store also needs
overlayfs. If apply fails or is interrupted (Ctrl-C, SIGTERM), it removes what
it wrote: the directory (or store) is left as it was.`,
		Args: exactArgs("BLOB"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			l, err := f.load(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer func() { _ = l.file.Close() }()
			stop := f.start(cmd.ErrOrStderr(), func() string {
				st := l.file.Stats()
				return fmt.Sprintf("%s: read %s of %s (%s) in %s", l.path, size(st.Bytes), size(l.size), percent(st.Bytes, l.size),
					plural(int(st.Requests), "range request", "range requests"))
			})
			res, err := pullLayer(cmd.Context(), l, f.dest, f.store, f.parent)
			stop()
			if err == nil {
				if perr := printSummary(cmd.OutOrStdout(), res); perr != nil {
					return perr
				}
			}
			if f.dump && res.dump != nil {
				if derr := writeDump(cmd.OutOrStdout(), *res.dump, f.format); derr != nil {
					return errors.Join(err, derr)
				}
			}
			return err
		},
	}
	f.register(cmd)
	f.registerProgress(cmd)
	cmd.Flags().StringVar(&f.dest, "dest", "", "apply into this directory (new or empty; created if missing)")
	cmd.Flags().StringVar(&f.store, "store", "", "apply into an overlay store rooted here (created if missing; needs root)")
	cmd.Flags().StringVar(&f.parent, "parent", "", "parent layer ID in the store (with --store)")
	cmd.Flags().BoolVar(&f.dump, "dump", false, "print the final state dump")
	cmd.Flags().StringVar(&f.format, "format", "text", "dump format: json or text")
	return cmd
}

// check validates the command line before anything is read or written.
func (f *applyFlags) check() error {
	if (f.dest == "") == (f.store == "") {
		return usagef("give exactly one of --dest DIR and --store ROOT")
	}
	if f.format != "json" && f.format != "text" {
		return usagef("--format %q: want json or text", f.format)
	}
	if f.parent != "" && f.store == "" {
		return usagef("--parent %s: only with --store", f.parent)
	}
	if f.dest != "" {
		return checkDest(f.dest)
	}
	return checkRoot("--store")
}

// checkDest refuses a --dest that holds anything: on failure apply removes
// what it wrote, and must never be able to remove the user's files.
func checkDest(dest string) error {
	entries, err := os.ReadDir(dest)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return usagef("--dest %s: %w", dest, err)
	case len(entries) > 0:
		return usagef("--dest %s is not empty (it holds %s%s): give a new or empty directory", dest, entries[0].Name(),
			map[bool]string{true: ", …", false: ""}[len(entries) > 1])
	}
	return nil
}

// checkRoot says up front what an overlay store needs instead of letting a
// mount fail later; what names the option or command that uses the store.
func checkRoot(what string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s needs root: the overlay driver mounts filesystems and sets file owners; run chunkdiff as root", what)
	}
	return nil
}

// pullResult is what one pull did.
type pullResult struct {
	blob    string
	layerID string
	dump    *differ.Dump
	source  sourceStats
}

// sourceStats is what was read from the blob, metadata included.
type sourceStats struct{ requests, bytes int64 }

// pullLayer pulls l into dest (a directory) or into the store at storeRoot.
// On failure what it created is removed.
func pullLayer(ctx context.Context, l *layer, dest, storeRoot, parent string) (res pullResult, err error) {
	res.blob = l.path
	defer func() {
		s := l.file.Stats()
		res.source = sourceStats{requests: s.Requests, bytes: s.Bytes}
	}()
	if dest != "" {
		return pullIntoDir(ctx, l, dest)
	}
	return pullIntoStore(ctx, l, storeRoot, parent)
}

func pullIntoDir(ctx context.Context, l *layer, dest string) (res pullResult, err error) {
	res.blob = l.path
	created, err := mkdirTracked(dest)
	if err != nil {
		if created != "" {
			_ = os.RemoveAll(created)
		}
		return res, fmt.Errorf("--dest %s: %w", dest, err)
	}
	defer func() {
		if err != nil && created != "" {
			if rerr := os.RemoveAll(created); rerr != nil {
				err = errors.Join(err, cleanupError{rerr})
			}
		}
	}()
	d, err := differ.New(ctx, l.differLayer(withStall(ctx, l.file)), l.config(nil))
	if d == nil {
		return res, explain(ctx, l, err)
	}
	defer func() { _ = d.Close() }()
	if err == nil {
		var out graphdriver.DriverWithDifferOutput
		out, err = d.ApplyDiff(dest, &archive.TarOptions{}, &graphdriver.DifferOptions{})
		closeQuietly(out.TarSplit)
	}
	dump := d.Dump()
	res.dump = &dump
	return res, explain(ctx, l, err)
}

func pullIntoStore(ctx context.Context, l *layer, storeRoot, parent string) (res pullResult, err error) {
	res.blob = l.path
	created, err := topmostMissing(storeRoot)
	if err != nil {
		return res, fmt.Errorf("--store %s: %w", storeRoot, err)
	}
	defer func() {
		if err != nil && created != "" {
			if rerr := os.RemoveAll(created); rerr != nil {
				err = errors.Join(err, cleanupError{rerr})
			}
		}
	}()
	store, err := openStore(storeRoot, l.pullMap)
	if err != nil {
		return res, err
	}
	defer func() { _, _ = store.Shutdown(false) }()
	if parent != "" {
		if _, perr := store.Layer(parent); perr != nil {
			if errors.Is(perr, storage.ErrLayerUnknown) {
				return res, usagef("--parent %s: no such layer in the store at %s", parent, storeRoot)
			}
			return res, fmt.Errorf("--parent %s: %w", parent, perr)
		}
	}
	d, err := differ.New(ctx, l.differLayer(withStall(ctx, l.file)), l.config(store))
	if d == nil {
		return res, explain(ctx, l, err)
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
	return res, explain(ctx, l, err)
}

// mkdirTracked creates dir (and missing parents) and returns the topmost
// directory it created itself, "" if dir existed: on failure that one is
// removed, and never a directory someone else created meanwhile.
func mkdirTracked(dir string) (string, error) {
	dir = filepath.Clean(dir)
	var missing []string
	for p := dir; ; p = filepath.Dir(p) {
		_, err := os.Lstat(p)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		missing = append(missing, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	top := ""
	for i := len(missing) - 1; i >= 0; i-- {
		err := os.Mkdir(missing[i], 0o755)
		switch {
		case err == nil && top == "":
			top = missing[i]
		case errors.Is(err, os.ErrExist) && top == "":
			// created by someone else meanwhile: not ours to remove
		case err != nil:
			return top, err
		}
	}
	return top, nil
}

// topmostMissing returns the highest ancestor of p (or p) that does not
// exist, "" if p exists.
func topmostMissing(p string) (string, error) {
	p = filepath.Clean(p)
	top := ""
	for {
		_, err := os.Lstat(p)
		if err == nil {
			return top, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		top = p
		parent := filepath.Dir(p)
		if parent == p {
			return top, nil
		}
		p = parent
	}
}

func closeQuietly(c io.Closer) {
	if c != nil && c != (*os.File)(nil) {
		_ = c.Close()
	}
}
