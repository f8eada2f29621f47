package dcontext

import (
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const someDigest = digest.Digest("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

func TestParsePullOptions(t *testing.T) {
	tests := []struct {
		in   map[string]string
		want PullOptions
	}{
		{nil, PullOptions{}},
		{map[string]string{"enable_partial_images": "TRUE"}, PullOptions{EnablePartialImages: true}},
		{map[string]string{"enable_partial_images": "yes", "convert_images": "1"}, PullOptions{}},
		{map[string]string{"convert_images": "true", "use_hard_links": "True", "insecure_allow_unpredictable_image_contents": "true"},
			PullOptions{ConvertImages: true, UseHardLinks: true, InsecureAllowUnpredictableImageContents: true}},
		{map[string]string{"ostree_repos": ""}, PullOptions{}},
		{map[string]string{"ostree_repos": "/a::/b"}, PullOptions{OSTreeRepos: []string{"/a", "/b"}}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ParsePullOptions(tt.in), "%v", tt.in)
	}
}

func TestDetectFormat(t *testing.T) {
	f, d, err := DetectFormat(map[string]string{AnnotationZstdChunkedTOCDigest: string(someDigest)})
	require.NoError(t, err)
	assert.Equal(t, FormatZstdChunked, f)
	assert.Equal(t, someDigest, d)

	f, _, err = DetectFormat(map[string]string{AnnotationEStargzTOCDigest: string(someDigest)})
	require.NoError(t, err)
	assert.Equal(t, FormatEStargz, f)

	f, d, err = DetectFormat(map[string]string{"other": "x"})
	require.NoError(t, err)
	assert.Equal(t, FormatNone, f)
	assert.Empty(t, d)

	_, _, err = DetectFormat(map[string]string{AnnotationZstdChunkedTOCDigest: string(someDigest), AnnotationEStargzTOCDigest: string(someDigest)})
	require.ErrorIs(t, err, ErrAmbiguousFormat)

	_, _, err = DetectFormat(map[string]string{AnnotationZstdChunkedTOCDigest: "sha256:nothex"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), AnnotationZstdChunkedTOCDigest)
}

func TestNewIsImmutable(t *testing.T) {
	ann := map[string]string{AnnotationZstdChunkedTOCDigest: string(someDigest)}
	pull := PullOptions{EnablePartialImages: true, OSTreeRepos: []string{"/repo"}}
	c, err := New(someDigest, 100, ann, nil, WithPullOptions(pull), WithTempDir("/tmp/x"))
	require.NoError(t, err)

	ann[AnnotationZstdChunkedTOCDigest] = "changed"
	pull.OSTreeRepos[0] = "changed"
	got := c.Annotations()
	got["new"] = "x"
	gotPull := c.PullOptions()
	gotPull.OSTreeRepos[0] = "changed too"

	assert.Equal(t, map[string]string{AnnotationZstdChunkedTOCDigest: string(someDigest)}, c.Annotations())
	assert.Equal(t, []string{"/repo"}, c.PullOptions().OSTreeRepos)
	assert.Equal(t, FormatZstdChunked, c.Format())
	assert.Equal(t, someDigest, c.TOCDigest())
	assert.Equal(t, "/tmp/x", c.TempDir())
	assert.Equal(t, DefaultLimits(), c.Limits())
}

func TestNewValidates(t *testing.T) {
	zstd := map[string]string{AnnotationZstdChunkedTOCDigest: string(someDigest)}
	_, err := New("nope", 1, nil, nil)
	assert.ErrorContains(t, err, "blob digest")
	_, err = New(someDigest, -2, nil, nil)
	assert.ErrorContains(t, err, "blob size")
	// An unknown size (-1) with a TOC is accepted, as upstream: the
	// annotations locate zstd:chunked metadata (rule "blob-size-unknown").
	c, err := New(someDigest, -1, zstd, nil)
	require.NoError(t, err)
	assert.Equal(t, int64(-1), c.BlobSize())
	_, err = New(someDigest, 1, nil, nil, WithLimits(Limits{MaxTOCSize: -1}))
	assert.ErrorContains(t, err, "MaxTOCSize")
	c, err = New(someDigest, -1, nil, nil, WithLimits(Limits{MaxTOCSize: 10}), WithStorePaths("/g", "/r"))
	require.NoError(t, err)
	assert.Equal(t, int64(10), c.Limits().MaxTOCSize)
	assert.Equal(t, int64(DefaultMaxTarSplitSize), c.Limits().MaxTarSplitSize)
	assert.Equal(t, "/r", c.TempDir(), "temp dir defaults to the run root")
}
