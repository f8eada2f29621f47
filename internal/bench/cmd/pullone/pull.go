package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/chunkdiff/chunkdiff/differ"
	"github.com/chunkdiff/chunkdiff/internal/bench/report"
	digest "github.com/opencontainers/go-digest"
	storage "go.podman.io/storage"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/chunked"
	"go.podman.io/storage/pkg/stringid"
)

// pulled is what pull leaves for the caller: the differ still open (Close
// is outside the timed span) and the committed layer.
type pulled struct {
	differ graphdriver.Differ
	layer  *storage.Layer
	// fellBack: the differ declined and the layer was downloaded whole,
	// as c/image does.
	fellBack bool
}

// pull does what c/image does for a partial pull: NewDiffer (without any
// storage lock), PrepareStagedLayer, ApplyStagedLayer. Both differs go
// through exactly the same calls; only the constructor differs.
func pull(ctx context.Context, store storage.Store, which string, dgst digest.Digest, size int64, ann map[string]string, src chunked.ImageSourceSeekable, parent string) (pulled, error) {
	var (
		p   pulled
		err error
	)
	if which == "ours" {
		p.differ, err = differ.NewDiffer(ctx, store, dgst, size, ann, src)
	} else {
		p.differ, err = chunked.NewDiffer(ctx, store, dgst, size, ann, src)
	}
	if err != nil && isFallback(err) {
		if p.differ == nil {
			p.differ = nopDiffer{}
		}
		p.fellBack = true
		p.layer, err = ordinary(store, dgst, size, src, parent)
		return p, err
	}
	if err != nil {
		p.differ = nopDiffer{}
		return p, fmt.Errorf("%s NewDiffer: %w", which, err)
	}
	out, err := store.PrepareStagedLayer(nil, p.differ)
	if err != nil {
		if out != nil {
			_ = store.CleanupStagedLayer(out)
		}
		if isFallback(err) {
			p.fellBack = true
			p.layer, err = ordinary(store, dgst, size, src, parent)
			return p, err
		}
		return p, fmt.Errorf("%s PrepareStagedLayer: %w", which, err)
	}
	p.layer, err = store.ApplyStagedLayer(storage.ApplyStagedLayerOptions{
		ID:          stringid.GenerateRandomID(),
		ParentLayer: parent,
		DiffOutput:  out,
		DiffOptions: &graphdriver.ApplyDiffWithDifferOpts{},
	})
	if err != nil {
		_ = store.CleanupStagedLayer(out)
		return p, fmt.Errorf("%s ApplyStagedLayer: %w", which, err)
	}
	return p, nil
}

// state is our differ's final state; upstream's has none to report.
func (p pulled) state() string {
	if d, ok := p.differ.(*differ.Differ); ok {
		return d.State().String()
	}
	return ""
}

// reuse is our differ's apply summary; nil for upstream.
func (p pulled) reuse() *report.Reuse {
	d, ok := p.differ.(*differ.Differ)
	if !ok {
		return nil
	}
	a := d.Dump().Apply
	if a == nil {
		return nil
	}
	r := a.Reuse
	return &report.Reuse{
		LowerBound: r.LowerBound, ApplyBytes: a.BytesFetched, ApplyRequests: a.Requests, LocalChunkBytes: a.LocalChunkBytes,
		FilesLinked: r.FilesLinked, FilesCopied: r.FilesCopied, FilesReflinked: r.FilesReflinked, ChunksLocal: r.ChunksLocal, Rejected: r.Rejected,
	}
}

// writeDump saves our differ's state dump, for diagnosing a slow pull.
func (p pulled) writeDump(path string) error {
	d, ok := p.differ.(*differ.Differ)
	if path == "" || !ok {
		return nil
	}
	b, err := json.MarshalIndent(d.Dump(), "", "  ")
	if err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	return nil
}

// nopDiffer stands in when NewDiffer failed, so Close needs no nil check.
type nopDiffer struct{ graphdriver.Differ }

func (nopDiffer) Close() error { return nil }

// countLayerFiles counts the entries of the layer's own diff directory, so
// a side that dropped or added files shows up in the table.
func countLayerFiles(store storage.Store, id string) (int, error) {
	gd, err := store.GraphDriver()
	if err != nil {
		return 0, fmt.Errorf("graph driver: %w", err)
	}
	md, err := gd.Metadata(id)
	if err != nil {
		return 0, fmt.Errorf("layer metadata: %w", err)
	}
	dir := md["UpperDir"]
	if dir == "" {
		return 0, fmt.Errorf("layer %s has no UpperDir (driver %s)", id, gd.String())
	}
	n := -1 // the directory itself
	err = filepath.WalkDir(dir, func(_ string, _ fs.DirEntry, err error) error {
		n++
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("count layer files: %w", err)
	}
	return n, nil
}
