package testutil

import "github.com/chunkdiff/chunkdiff/internal/treegen"

// The tree generators live in internal/treegen (no "testing" import, so the
// benchmark binaries can use them); tests keep reaching them from here.
type (
	// RealisticOptions sizes a RealisticTree.
	RealisticOptions = treegen.RealisticOptions
	// UpdateOptions describe how an update differs from its base.
	UpdateOptions = treegen.UpdateOptions
)

// RealisticEntries is treegen.RealisticEntries.
func RealisticEntries(o RealisticOptions) []Entry { return treegen.RealisticEntries(o) }

// RealisticTree is treegen.RealisticTree.
func RealisticTree(dir string, o RealisticOptions) error { return treegen.RealisticTree(dir, o) }

// Update is treegen.Update.
func Update(base []Entry, o UpdateOptions) []Entry { return treegen.Update(base, o) }
