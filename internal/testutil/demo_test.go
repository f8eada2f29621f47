package testutil

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The committed demo pair must pull with upstream, and update must mostly
// reuse base's files from the store.
func TestDemoLayersUpstream(t *testing.T) {
	store := NewOverlayStore(t, partialPulls)
	base, update := DemoLayer(t, "base"), DemoLayer(t, "update")

	out, err := UpstreamPull(t, store, base, nil)
	require.NoError(t, err)
	require.Equal(t, base.DiffID, out.UncompressedDigest)
	l := ApplyStaged(t, store, out, "")

	src := NewSource(update.Blob)
	out, err = UpstreamPull(t, store, update, src)
	require.NoError(t, err)
	require.Equal(t, update.DiffID, out.UncompressedDigest)
	ApplyStaged(t, store, out, l.ID)
	t.Logf("update: fetched %d of %d bytes in %d calls", src.BytesServed(), len(update.Blob), src.Calls())
	// tool1 is one random chunk, so it is refetched whole; the rest is reused.
	require.Less(t, src.BytesServed(), int64(len(update.Blob))/3)
}
