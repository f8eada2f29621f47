package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/bench/report"
	"github.com/chunkdiff/chunkdiff/internal/source"
	digest "github.com/opencontainers/go-digest"
	storage "go.podman.io/storage"
	"go.podman.io/storage/types"
	"golang.org/x/sys/unix"
)

// input is one layer blob and what the manifest would say about it.
type input struct {
	blob, annotations, digest string
}

type config struct {
	differ, root, driver string
	layer, parent        input
	parentID             string
	pullOptions          map[string]string
	cpuProfile           string
	memProfile           string
	dump                 string
}

func (c config) validate() error {
	switch {
	case c.differ != "ours" && c.differ != "upstream":
		return fmt.Errorf("--differ must be ours or upstream, not %q", c.differ)
	case c.root == "":
		return errors.New("--root is required")
	case c.layer.blob == "":
		return errors.New("--blob is required")
	case c.parent.blob != "" && c.parentID != "":
		return errors.New("--parent-blob and --parent-id exclude each other")
	}
	return nil
}

func run(ctx context.Context, cfg config) (report.Result, error) {
	res := report.Result{Differ: cfg.differ}
	if err := cfg.validate(); err != nil {
		return res, err
	}
	if cfg.parent.blob != "" {
		// In a child process, so its memory peak is not this one's.
		id, err := pullParent(cfg)
		if err != nil {
			return res, err
		}
		cfg.parentID = id
		// Write the base back now, not during the timed pull.
		unix.Sync()
		time.Sleep(time.Second)
	}
	ann, dgst, err := cfg.layer.load()
	if err != nil {
		return res, err
	}
	store, err := storage.GetStore(types.StoreOptions{
		RunRoot:         filepath.Join(cfg.root, "run"),
		GraphRoot:       filepath.Join(cfg.root, "graph"),
		GraphDriverName: cfg.driver,
		PullOptions:     cfg.pullOptions,
	})
	if err != nil {
		return res, fmt.Errorf("open store: %w", err)
	}
	defer func() { _, _ = store.Shutdown(true) }() // only on early returns; see below
	src, err := source.OpenFile(cfg.layer.blob)
	if err != nil {
		return res, err
	}
	defer func() { _ = src.Close() }() // read-only; nothing to lose

	prof, err := startProfiles(cfg.cpuProfile, cfg.memProfile)
	if err != nil {
		return res, err
	}
	ru0, t0 := rusage(unix.RUSAGE_SELF), time.Now()
	p, err := pull(ctx, store, cfg.differ, dgst, src.Size(), ann, src, cfg.parentID)
	wall, ru1 := time.Since(t0), rusage(unix.RUSAGE_SELF)
	if perr := prof.stop(); perr != nil && err == nil {
		err = perr
	}
	res.State = p.state() // before Close, which moves ours to closed
	res.FellBack = p.fellBack
	res.Reuse = p.reuse()
	t1 := time.Now()
	if cerr := p.differ.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("differ Close: %w", cerr)
	}
	res.CloseS = time.Since(t1).Seconds()
	if derr := p.writeDump(cfg.dump); derr != nil && err == nil {
		err = derr
	}
	if err != nil {
		return res, err
	}

	res.WallS = wall.Seconds()
	res.UserS, res.SysS = cpuDelta(ru0, ru1)
	st := src.Stats()
	res.BytesFetched, res.Requests, res.Ranges = st.Bytes, st.Requests, st.Ranges
	res.LayerID, res.DiffID = p.layer.ID, p.layer.UncompressedDigest.String()
	if res.LayerFiles, err = countLayerFiles(store, p.layer.ID); err != nil {
		return res, err
	}
	if _, err := store.Shutdown(true); err != nil {
		return res, fmt.Errorf("store shutdown: %w", err)
	}
	// Last, so it covers the whole process.
	res.RusageMaxRSSKiB = rusage(unix.RUSAGE_SELF).Maxrss
	res.ChildrenMaxRSSKiB = rusage(unix.RUSAGE_CHILDREN).Maxrss
	res.MaxRSSKiB, err = peakRSSKiB()
	return res, err
}

// load reads the annotations and, unless given, hashes the blob: outside
// the timed span, as c/image knows both from the manifest.
func (in input) load() (map[string]string, digest.Digest, error) {
	path := in.annotations
	if path == "" {
		path = filepath.Join(filepath.Dir(in.blob), "annotations.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("annotations: %w", err)
	}
	ann := map[string]string{}
	if err := json.Unmarshal(b, &ann); err != nil {
		return nil, "", fmt.Errorf("annotations %s: %w", path, err)
	}
	if in.digest != "" {
		d, err := digest.Parse(in.digest)
		return ann, d, err
	}
	f, err := os.Open(in.blob)
	if err != nil {
		return nil, "", fmt.Errorf("blob: %w", err)
	}
	defer f.Close()
	dg := digest.Canonical.Digester()
	if _, err := io.Copy(dg.Hash(), f); err != nil {
		return nil, "", fmt.Errorf("hash blob: %w", err)
	}
	return ann, dg.Digest(), nil
}
