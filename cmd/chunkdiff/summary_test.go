package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// summaryNumbers reads the byte counts of apply's summary.
type summaryNumbers struct{ blob, fetched, metadata, contents, notFetched int64 }

func parseSummary(t *testing.T, out string) summaryNumbers {
	t.Helper()
	num := func(re string) int64 {
		m := regexp.MustCompile(re).FindStringSubmatch(out)
		require.NotNil(t, m, "%s in\n%s", re, out)
		n, err := strconv.ParseInt(m[1], 10, 64)
		require.NoError(t, err)
		return n
	}
	return summaryNumbers{
		fetched:    num(`fetched: (\d+) B`),
		blob:       num(`of the (\d+) B .*blob`),
		metadata:   num(`(\d+) B .*metadata \(TOC and tar-split\)`),
		contents:   num(`, (\d+) B .*file contents`),
		notFetched: num(`not fetched: (\d+) B`),
	}
}

// metadataSize is the compressed TOC plus tar-split, as inspect reports.
func metadataSize(t *testing.T, blob string, extra ...string) int64 {
	t.Helper()
	r := runBin(t, nil, append([]string{"inspect", blob}, extra...)...)
	require.Equal(t, 0, r.code, r.stderr)
	var dump struct {
		Metadata struct {
			TOC      int64 `json:"toc_compressed_size"`
			TarSplit int64 `json:"tar_split_compressed_size"`
		} `json:"metadata"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &dump))
	return dump.Metadata.TOC + dump.Metadata.TarSplit
}

// The summary's numbers add up: what was fetched is the metadata (TOC and
// tar-split, read while loading) plus the file contents, and the rest of
// the blob is "not fetched". No unexplained jargon.
func TestSummaryNumbersAddUp(t *testing.T) {
	blob, l := bigLayer(t)
	r := runBin(t, nil, "apply", blob, "--dest", filepath.Join(t.TempDir(), "tree"), "--dump")
	require.Equal(t, 0, r.code, r.stderr)
	n := parseSummary(t, r.stdout)
	assert.Equal(t, l.Size(), n.blob)
	assert.Equal(t, n.fetched, n.metadata+n.contents, "fetched = metadata + contents")
	assert.Equal(t, metadataSize(t, blob), n.metadata, "metadata is the TOC and the tar-split")
	assert.Equal(t, n.blob-n.fetched, n.notFetched)
	assert.Positive(t, n.contents)
	assert.Regexp(t, `written: \d+ B .* \(plus \d+ B .*of zeros left as sparse holes\)`, r.stdout, "the tree has long zero runs")
	for _, jargon := range []string{"lower bound", "1 requests", "1 ranges", " B holes", "skipped"} {
		assert.NotContains(t, r.stdout, jargon)
	}
}

// On an update, contents found in the store are not fetched, and the
// summary says where they came from.
func TestSummaryOfAnUpdate(t *testing.T) {
	testutil.RequireOverlay(t)
	root, err := os.MkdirTemp("", "chunkdiff-cli-store-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	demo := "../../testdata/demo"
	r := runBin(t, nil, "apply", filepath.Join(demo, "base.tar.zst"), "--store", root)
	require.Equal(t, 0, r.code, r.stderr)
	id := regexp.MustCompile(`(?m)^  id: +([0-9a-f]{64})$`).FindStringSubmatch(r.stdout)
	require.NotNil(t, id, r.stdout)

	update := filepath.Join(demo, "update.tar.zst")
	r = runBin(t, nil, "apply", update, "--store", root, "--parent", id[1])
	require.Equal(t, 0, r.code, r.stderr)
	n := parseSummary(t, r.stdout)
	assert.Equal(t, n.fetched, n.metadata+n.contents)
	assert.Equal(t, metadataSize(t, update), n.metadata)
	assert.Equal(t, n.blob-n.fetched, n.notFetched)
	assert.Less(t, n.contents, n.blob/2, "most contents come from the base")
	assert.Regexp(t, `reused:  \d+ files copied, \d+ chunks copied \(\d+ B, [0-9.]+ KiB\) from layers already in the store`, r.stdout)
	assert.Contains(t, r.stdout, "contents found locally")
}
