package main

import (
	"fmt"
	"path/filepath"

	"github.com/sirupsen/logrus"
	storage "go.podman.io/storage"
	"go.podman.io/storage/types"
)

// openStore opens (or creates) an overlay store rooted at root: graph data
// in root/graph, run data in root/run.
func openStore(root string, pullOptions map[string]string) (storage.Store, error) {
	// storage logs through logrus; keep its chatter out of our output.
	logrus.SetLevel(logrus.WarnLevel)
	s, err := storage.GetStore(types.StoreOptions{
		GraphRoot:       filepath.Join(root, "graph"),
		RunRoot:         filepath.Join(root, "run"),
		GraphDriverName: "overlay",
		PullOptions:     pullOptions,
	})
	if err != nil {
		return nil, fmt.Errorf("opening the overlay store at %s (it needs overlayfs on that filesystem): %w", root, err)
	}
	return s, nil
}
