package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/pull"
	"github.com/chunkdiff/chunkdiff/internal/registry"
	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	storage "go.podman.io/storage"
	"go.podman.io/storage/types"
)

type pullFlags struct {
	store       string
	tlsVerify   bool
	platform    string
	pullOptions []string
	json        bool
	dump        string
}

func newPullCommand() *cobra.Command {
	var f pullFlags
	cmd := &cobra.Command{
		Use:   "pull [--store ROOT] [--tls-verify=false] [--platform OS/ARCH] [--pull-option K=V]... [--json] [--dump DIR] REF",
		Short: "Pull an image from a registry into a containers/storage store, partially where possible",
		Long: `pull resolves REF (a docker reference; docker:// accepted) on its registry,
pulls each layer through chunkdiff's differ with range requests (an ordinary
download wherever the lifecycle or the registry says fall back), and commits
the image as containers/image does, so podman and skopeo see it. Registries
that refuse multi-range requests, ignore ranges, send other ranges, reset
connections or stall are handled; see docs/RELIABILITY.md.

Without --store the store configured in storage.conf is used (as podman
does); --store ROOT uses an overlay store with graph root ROOT/graph and run
root ROOT/run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pullMap, err := parsePullOptions(f.pullOptions)
			if err != nil {
				return err
			}
			store, err := pullStore(f.store, pullMap, types.DefaultStoreOptions)
			if err != nil {
				return err
			}
			defer func() { _, _ = store.Shutdown(false) }()
			return runPull(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), store, args[0], f)
		},
	}
	cmd.Flags().StringVar(&f.store, "store", "", "overlay store rooted here (default: the storage.conf store)")
	cmd.Flags().BoolVar(&f.tlsVerify, "tls-verify", true, "require HTTPS and verify certificates (false allows plain HTTP)")
	cmd.Flags().StringVar(&f.platform, "platform", "", "OS/ARCH[/VARIANT] to pick from an index (default: this host's)")
	cmd.Flags().StringArrayVar(&f.pullOptions, "pull-option", []string{"enable_partial_images=true"},
		"pull option KEY=VALUE as in containers-storage.conf [storage.options.pull_options] (repeatable)")
	cmd.Flags().BoolVar(&f.json, "json", false, "print a JSON summary")
	cmd.Flags().StringVar(&f.dump, "dump", "", "write each layer's state dump (JSON) into this directory")
	return cmd
}

func parsePullOptions(kvs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--pull-option %q: want KEY=VALUE", kv)
		}
		m[k] = v
	}
	return m, nil
}

// pullStore opens the --store overlay store, or the configured one
// (configured: storage.conf as containers/storage reads it, once per
// process).
func pullStore(root string, pullOptions map[string]string, configured func() (types.StoreOptions, error)) (storage.Store, error) {
	if root != "" {
		return openStore(root, pullOptions)
	}
	opts, err := configured()
	if err != nil {
		return nil, fmt.Errorf("reading the storage configuration: %w", err)
	}
	if opts.PullOptions == nil {
		opts.PullOptions = map[string]string{}
	}
	for k, v := range pullOptions {
		opts.PullOptions[k] = v
	}
	s, err := storage.GetStore(opts)
	if err != nil {
		return nil, fmt.Errorf("opening the store at %s: %w", opts.GraphRoot, err)
	}
	return s, nil
}

func runPull(ctx context.Context, stdout, stderr io.Writer, store storage.Store, ref string, f pullFlags) error {
	bars := newProgressBars(stderr)
	res, err := pull.Pull(ctx, store, ref, pull.Options{
		Registry: registry.ResolveOptions{Insecure: !f.tlsVerify, Platform: f.platform},
		Progress: bars,
	})
	bars.wait()
	if res == nil {
		return err
	}
	if f.dump != "" {
		if derr := writeDumps(f.dump, res); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	var werr error
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		werr = enc.Encode(res)
	} else {
		werr = printPull(stdout, res)
	}
	return errors.Join(err, werr)
}

// writeDumps writes layer-<i>-<digest>.json per layer that went through
// the differ.
func writeDumps(dir string, res *pull.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, l := range res.Layers {
		if l.Dump == nil {
			continue
		}
		raw, err := json.MarshalIndent(l.Dump, "", "  ")
		if err != nil {
			return err
		}
		name := fmt.Sprintf("layer-%d-%s.json", l.Index, l.Digest.Encoded()[:12])
		if err := os.WriteFile(filepath.Join(dir, name), append(raw, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func printPull(w io.Writer, res *pull.Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", res.Reference)
	for _, l := range res.Layers {
		fmt.Fprintf(&b, "  layer %d %s: %s", l.Index, l.Digest.Encoded()[:12], l.Outcome)
		if l.Reason != "" {
			fmt.Fprintf(&b, " (%s)", l.Reason)
		}
		if l.Outcome != pull.Present {
			fmt.Fprintf(&b, ", fetched %d B for a %d B blob, skipped: %d B = %s", l.Fetched, l.Size, l.Skipped, percent(l.Skipped, l.Size))
		}
		if l.Error != "" {
			fmt.Fprintf(&b, ", error: %s", l.Error)
		}
		b.WriteString("\n")
	}
	if why := res.Registry.SingleRanges; why != nil {
		fmt.Fprintf(&b, "  registry: single-range requests (%s)\n", why)
	}
	// Response bodies: multipart framing and resent bytes count too.
	fmt.Fprintf(&b, "  fetched: %d B on the wire for %d B of blobs (%s), %d requests\n", res.Fetched, res.BlobBytes, percent(res.Fetched, res.BlobBytes), res.Registry.Requests)
	if res.ImageID != "" {
		fmt.Fprintf(&b, "  image:   %s\n", res.ImageID)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// progressBars draws one mpb bar per layer: bytes fetched, then what the
// layer skipped.
type progressBars struct {
	p    *mpb.Progress
	mu   sync.Mutex
	bars map[int]*layerBar
}

type layerBar struct {
	bar  *mpb.Bar
	stop chan struct{}
	done chan struct{}
	note atomic.Pointer[string]
}

func newProgressBars(w io.Writer) *progressBars {
	return &progressBars{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40)), bars: map[int]*layerBar{}}
}

func (p *progressBars) Start(i int, l registry.Layer, fetched func() int64) {
	lb := &layerBar{stop: make(chan struct{}), done: make(chan struct{})}
	lb.bar = p.p.AddBar(l.Size,
		mpb.PrependDecorators(decor.Name(fmt.Sprintf("layer %d %s", i, l.Digest.Encoded()[:12]))),
		mpb.AppendDecorators(decor.Any(func(s decor.Statistics) string {
			if n := lb.note.Load(); n != nil {
				return *n
			}
			return fmt.Sprintf("fetched %s / %s", human(s.Current), human(s.Total))
		})),
	)
	p.mu.Lock()
	p.bars[i] = lb
	p.mu.Unlock()
	go func() {
		defer close(lb.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				lb.bar.SetCurrent(min(fetched(), l.Size))
			case <-lb.stop:
				return
			}
		}
	}()
}

func (p *progressBars) Finish(i int, r pull.LayerResult) {
	p.mu.Lock()
	lb := p.bars[i]
	delete(p.bars, i)
	p.mu.Unlock()
	if lb == nil {
		return
	}
	close(lb.stop)
	<-lb.done
	note := fmt.Sprintf("%s, fetched %s, skipped: %s = %s", r.Outcome, human(r.Fetched), human(r.Skipped), percent(r.Skipped, r.Size))
	if r.Error != "" {
		note = "failed: " + r.Error
	}
	lb.note.Store(&note)
	lb.bar.SetCurrent(min(r.Fetched, r.Size))
	if r.Error != "" {
		lb.bar.Abort(false)
		return
	}
	lb.bar.SetTotal(-1, true)
}

func (p *progressBars) wait() {
	p.mu.Lock()
	for i, lb := range p.bars {
		close(lb.stop)
		<-lb.done
		lb.bar.Abort(false)
		delete(p.bars, i)
	}
	p.mu.Unlock()
	p.p.Wait()
}
