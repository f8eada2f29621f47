package pull

import (
	"context"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testregistry"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	istorage "go.podman.io/image/v5/storage"
	storage "go.podman.io/storage"
)

// copyWithContainersImage pulls ref into store with containers/image's
// copy.Image, as podman pull does.
func copyWithContainersImage(t *testing.T, store storage.Store, ref string) {
	t.Helper()
	require.NoError(t, containersImageCopy(store, ref))
}

// upstreamGaps are the diff options hiding what upstream's differ does not
// reproduce of a tar.
func upstreamGaps(t *testing.T, tarBytes []byte) []testutil.DiffOption {
	opts := []testutil.DiffOption{testutil.IgnoreDirMtimes()}
	for p, fi := range testutil.TarSnapshot(t, tarBytes) {
		switch fi.Type {
		case "symlink", "char", "block", "fifo":
			opts = append(opts, testutil.IgnorePath(p))
		}
	}
	return opts
}

// view is an image as containers/image's storage transport reads it back.
type view struct {
	id, topLayer string
	names        []string
	manifest     []byte
	config       []byte
	diffIDs      []digest.Digest
	bigData      []string
	layers       []storage.Layer
}

func readBack(t *testing.T, store storage.Store, ref string) view {
	t.Helper()
	ctx := context.Background()
	sref, err := istorage.Transport.ParseStoreReference(store, ref)
	require.NoError(t, err)
	img, err := sref.NewImage(ctx, nil)
	require.NoError(t, err, "containers/image reads the image back")
	defer img.Close()
	var v view
	v.manifest, _, err = img.Manifest(ctx)
	require.NoError(t, err)
	v.config, err = img.ConfigBlob(ctx)
	require.NoError(t, err)
	oci, err := img.OCIConfig(ctx)
	require.NoError(t, err)
	v.diffIDs = oci.RootFS.DiffIDs
	ids, err := store.ImagesByDigest(digest.FromBytes(v.manifest))
	require.NoError(t, err)
	require.Len(t, ids, 1)
	simg := ids[0]
	v.id, v.topLayer, v.names = simg.ID, simg.TopLayer, simg.Names
	v.bigData, err = store.ListImageBigData(simg.ID)
	require.NoError(t, err)
	for id := simg.TopLayer; id != ""; {
		l, err := store.Layer(id)
		require.NoError(t, err)
		v.layers = append([]storage.Layer{*l}, v.layers...)
		id = l.Parent
	}
	return v
}

// The pulled image is what containers/image itself would have stored:
// same image ID, names, manifest, config, big-data keys, layer chain and
// DiffIDs, and the same files in every layer.
func TestPullMatchesContainersImage(t *testing.T) {
	r := releases(t)
	srv := testregistry.Start(t)
	small := testutil.ZstdChunked(t, testutil.TarBytes(t, testutil.RichTree(5)))
	img := srv.Push(t, "test/app:1", small, r.base)

	ours := overlayStore(t)
	res := mustPull(t, ours, img.Ref)
	theirs := overlayStore(t)
	copyWithContainersImage(t, theirs, img.Ref)

	a, b := readBack(t, ours, img.Ref), readBack(t, theirs, img.Ref)
	assert.Equal(t, b.id, a.id)
	assert.Equal(t, img.ConfigDigest.Encoded(), a.id)
	assert.Equal(t, res.ImageID, a.id)
	assert.Equal(t, b.names, a.names)
	assert.Equal(t, []string{img.Ref}, a.names)
	assert.Equal(t, b.manifest, a.manifest)
	assert.Equal(t, img.Manifest, a.manifest)
	assert.Equal(t, b.config, a.config)
	assert.Equal(t, b.diffIDs, a.diffIDs)
	assert.ElementsMatch(t, b.bigData, a.bigData)
	smallTar := testutil.TarBytes(t, testutil.RichTree(5))
	layerTars := [][]byte{smallTar, r.baseTar}
	require.Len(t, a.layers, 2)
	require.Len(t, b.layers, 2)
	for i := range a.layers {
		assert.Equal(t, b.layers[i].ID, a.layers[i].ID, "layer %d", i)
		assert.Equal(t, b.layers[i].UncompressedDigest, a.layers[i].UncompressedDigest, "layer %d", i)
		assert.Equal(t, img.Layers[i].DiffID, a.layers[i].UncompressedDigest)
		assert.Equal(t, b.layers[i].TOCDigest, a.layers[i].TOCDigest, "layer %d", i)
		// Upstream's differ leaves directory mtimes at creation time, sets
		// no symlink attributes and creates no device nodes or fifos
		// (BEHAVIOUR.md "upstream-quirks"): those are left out here; ours match
		// the tar exactly.
		assert.Empty(t, testutil.Diff(layerTree(t, theirs, b.layers[i].ID), layerTree(t, ours, a.layers[i].ID),
			upstreamGaps(t, layerTars[i])...), "layer %d", i)
		assert.Empty(t, testutil.Diff(testutil.TarSnapshot(t, layerTars[i]), layerTree(t, ours, a.layers[i].ID)), "layer %d", i)
	}
	for _, l := range res.Layers {
		assert.Equal(t, Partial, l.Outcome)
	}
	assert.Positive(t, srv.Tokens(), "the pull authenticated with a bearer token")
	requireNoLeak(t)
}

// An index resolves to the requested platform (the host's by default).
func TestPullPicksPlatform(t *testing.T) {
	srv := testregistry.Start(t)
	amd := testutil.ZstdChunked(t, testutil.TarBytes(t, testutil.RichTree(7)))
	arm := testutil.ZstdChunked(t, testutil.TarBytes(t, testutil.RichTree(8)))
	a := srv.PushPlatform(t, "test/multi:amd64", "linux", "amd64", amd)
	b := srv.PushPlatform(t, "test/multi:arm64", "linux", "arm64", arm)
	idxDigest, idx := srv.PushIndex(t, "test/multi:1", map[string]testregistry.Image{"linux/amd64": a, "linux/arm64": b})

	store := overlayStore(t)
	o := options()
	o.Registry.Platform = "linux/arm64"
	res, err := Pull(context.Background(), store, srv.Host+"/test/multi:1", o)
	require.NoError(t, err)
	assert.Equal(t, b.ManifestDigest, res.ManifestDigest)
	assert.Equal(t, b.ConfigDigest.Encoded(), res.ImageID)
	keys, err := store.ListImageBigData(res.ImageID)
	require.NoError(t, err)
	assert.Contains(t, keys, manifestBigDataKey(idxDigest), "the index is kept, as containers/image does")
	got, err := store.ImageBigData(res.ImageID, manifestBigDataKey(idxDigest))
	require.NoError(t, err)
	assert.Equal(t, idx, got)

	o.Registry.Platform = "linux/s390x"
	_, err = Pull(context.Background(), store, srv.Host+"/test/multi:1", o)
	require.ErrorContains(t, err, "linux/s390x")
	o.Registry.Platform = "linux"
	_, err = Pull(context.Background(), store, srv.Host+"/test/multi:1", o)
	require.ErrorContains(t, err, "OS/ARCH")
}

func TestPullErrors(t *testing.T) {
	srv := testregistry.Start(t)
	store := overlayStore(t)
	_, err := Pull(context.Background(), store, srv.Host+"/test/missing:1", options())
	require.ErrorContains(t, err, "test/missing")
	_, err = Pull(context.Background(), store, "Not A Reference", options())
	require.ErrorContains(t, err, "reference")
	o := options()
	o.Registry.Keychain = nil // anonymous: the token endpoint refuses
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("REGISTRY_AUTH_FILE", "")
	img := srv.Push(t, "test/app:1", testutil.ZstdChunked(t, testutil.TarBytes(t, testutil.RichTree(5))))
	_, err = Pull(context.Background(), store, img.Ref, o)
	require.Error(t, err)
	images, err := store.Images()
	require.NoError(t, err)
	assert.Empty(t, images, "nothing committed")
}

// Layers pulled without a DiffID (zstd:chunked without tar-split, with
// insecure_allow_unpredictable_image_contents) are identified by their TOC:
// layer IDs, the image ID and the expected-DiffID flag are what
// containers/image records for the same pull. (eStargz would do too, but
// upstream's differ panics on it in pgzip.)
func TestPullByTOCMatchesContainersImage(t *testing.T) {
	srv := testregistry.Start(t)
	tarBytes := testutil.TarBytes(t, testutil.RichTree(11))
	img := srv.Push(t, "test/notarsplit:1", testutil.WithoutTarSplit(t, testutil.ZstdChunked(t, tarBytes)))
	opts := map[string]string{"enable_partial_images": "true", "insecure_allow_unpredictable_image_contents": "true"}

	ours := testutil.NewOverlayStore(t, opts)
	res := mustPull(t, ours, img.Ref)
	theirs := testutil.NewOverlayStore(t, opts)
	copyWithContainersImage(t, theirs, img.Ref)

	a, b := readBack(t, ours, img.Ref), readBack(t, theirs, img.Ref)
	require.True(t, res.Layers[0].ByTOC, "no DiffID was computed")
	assert.NotEqual(t, img.ConfigDigest.Encoded(), a.id, "the TOC enters the image ID")
	assert.Equal(t, b.id, a.id)
	assert.Equal(t, b.names, a.names)
	assert.Equal(t, b.manifest, a.manifest)
	assert.ElementsMatch(t, b.bigData, a.bigData)
	require.Len(t, a.layers, 1)
	require.Len(t, b.layers, 1)
	assert.Equal(t, b.layers[0].ID, a.layers[0].ID)
	assert.Equal(t, b.layers[0].TOCDigest, a.layers[0].TOCDigest)
	assert.Equal(t, b.layers[0].Flags, a.layers[0].Flags)
	assert.Equal(t, img.Layers[0].DiffID.String(), a.layers[0].Flags[expectedLayerDiffIDFlag])
	assert.Empty(t, testutil.Diff(testutil.TarSnapshot(t, tarBytes), layerTree(t, ours, a.layers[0].ID)))
}

// A config whose DiffID does not match the layer fails the pull, partial
// or ordinary, and leaves no layer and no image behind.
func TestPullRejectsWrongDiffID(t *testing.T) {
	srv := testregistry.Start(t)
	tarBytes := testutil.TarBytes(t, testutil.RichTree(12))
	for name, l := range map[string]testutil.Layer{
		"partial":  testutil.ZstdChunked(t, tarBytes),
		"ordinary": testutil.Gzip(t, tarBytes),
	} {
		t.Run(name, func(t *testing.T) {
			l.DiffID = digest.FromString("not this layer")
			img := srv.Push(t, "test/wrong:"+name, l)
			store := overlayStore(t)
			res, err := Pull(context.Background(), store, img.Ref, options())
			require.Error(t, err)
			assert.Contains(t, err.Error(), "the config says "+l.DiffID.String())
			assert.Empty(t, res.ImageID)
			layers, err := store.Layers()
			require.NoError(t, err)
			assert.Empty(t, layers)
			images, err := store.Images()
			require.NoError(t, err)
			assert.Empty(t, images)
			requireNoLeak(t)
		})
	}
}
