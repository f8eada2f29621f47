package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --pull-option values are merged into the default enable_partial_images=true:
// setting another key keeps partial pulls on.
func TestPullOptionMergesWithDefault(t *testing.T) {
	blob, _ := bigLayer(t)
	r := runBin(t, nil, "inspect", blob, "--pull-option", "use_hard_links=true")
	require.Equal(t, 0, r.code, r.stderr)
	var dump struct {
		State   string `json:"state"`
		Context struct {
			Pull map[string]any `json:"pull_options"`
		} `json:"context"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &dump))
	assert.Equal(t, "metadata-loaded", dump.State, "partial pulls stay enabled")
	assert.Equal(t, true, dump.Context.Pull["use_hard_links"])
	assert.Equal(t, true, dump.Context.Pull["enable_partial_images"])

	dest := filepath.Join(t.TempDir(), "tree")
	r = runBin(t, nil, "apply", blob, "--dest", dest, "--pull-option", "use_hard_links=true")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, ": applied")

	// The default can still be turned off explicitly.
	r = runBin(t, nil, "inspect", blob, "--format", "text", "--pull-option", "enable_partial_images=false")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "partial-images-disabled")
}

// Bad option values are rejected before anything is read or written, with
// exit code 2 and a message naming the flag.
func TestBadOptionsNameTheFlag(t *testing.T) {
	blob, _ := bigLayer(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown key", []string{"--pull-option", "use_hardlinks=true"}, `--pull-option "use_hardlinks=true": unknown key "use_hardlinks"`},
		{"not a boolean", []string{"--pull-option", "use_hard_links=yes"}, `--pull-option use_hard_links="yes": want true or false`},
		{"no value", []string{"--pull-option", "use_hard_links"}, `--pull-option "use_hard_links": want KEY=VALUE`},
		{"negative TOC limit", []string{"--max-toc-size", "-5"}, "--max-toc-size -5: want a size in bytes"},
		{"not a number", []string{"--max-toc-size", "lots"}, `invalid argument "lots" for "--max-toc-size"`},
		{"missing temp dir", []string{"--temp-dir", "/nonexistent/tmp"}, "--temp-dir /nonexistent/tmp: not an existing directory"},
		{"dump format", []string{"--dump", "--format", "yaml"}, `--format "yaml": want json or text`},
		{"parent without store", []string{"--parent", "abc"}, "--parent abc: only with --store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dest := filepath.Join(parent, "tree")
			r := runBin(t, nil, append([]string{"apply", blob, "--dest", dest}, tc.args...)...)
			assert.Equal(t, exitUsage, r.code)
			assert.True(t, strings.HasPrefix(r.stderr, "chunkdiff: "+tc.want), "stderr: %s", r.stderr)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line")
			assert.NotContains(t, r.stderr, "MaxTOCSize", "the flag, not the Go field")
			assert.Empty(t, r.stdout)
			assert.Equal(t, map[string]string{".": listing(t, parent)["."]}, listing(t, parent), "nothing written")
		})
	}
}

func TestConvertLevelIsChecked(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "layer.tar")
	require.NoError(t, os.WriteFile(in, testutil.TarBytes(t, testutil.RichTree(2)), 0o644))
	for _, level := range []string{"0", "-3", "23", "99"} {
		r := runBin(t, nil, "convert", in, filepath.Join(dir, "out.tar.zst"), "--level", level)
		assert.Equal(t, exitUsage, r.code)
		assert.Contains(t, r.stderr, "chunkdiff: --level "+level+": want a zstd level from 1 (fastest) to 22 (smallest)")
	}
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, left, 1, "nothing written")
}

// convert names a plain tar "uncompressed" and writes the blob and its
// annotations with the same mode, 0644 less the umask.
func TestConvertOutputs(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "layer.tar")
	require.NoError(t, os.WriteFile(in, testutil.TarBytes(t, testutil.RichTree(2)), 0o644))
	out := filepath.Join(dir, "layer.tar.zst")
	r := runBin(t, nil, "convert", in, out, "--level", "1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, in+" (uncompressed) -> "+out)
	blob, err := os.Stat(out)
	require.NoError(t, err)
	ann, err := os.Stat(filepath.Join(dir, "layer.annotations.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644)&^umask(), blob.Mode().Perm())
	assert.Equal(t, blob.Mode().Perm(), ann.Mode().Perm(), "blob and annotations alike")
}

// A wrong command line exits 2 with one line naming what was wrong.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `chunkdiff: unknown command "bogus" (see chunkdiff --help)`},
		{[]string{"--bogus"}, "chunkdiff: unknown flag: --bogus"},
		{[]string{"apply"}, "chunkdiff: apply takes 1 operand (BLOB), got 0 operands (see chunkdiff apply --help)"},
		{[]string{"convert", "in"}, "chunkdiff: convert takes 2 operands (IN OUT), got 1 operand (see chunkdiff convert --help)"},
		{[]string{"demo", "extra"}, `chunkdiff: demo takes no operands; got ["extra"]`},
		{[]string{"apply", "x.tar.zst"}, "chunkdiff: give exactly one of --dest DIR and --store ROOT"},
	} {
		r := runBin(t, nil, tc.args...)
		assert.Equal(t, exitUsage, r.code, "%v", tc.args)
		assert.Equal(t, tc.want+"\n", r.stderr, "%v", tc.args)
		assert.Empty(t, r.stdout)
	}
	r := runBin(t, nil)
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "Exit status: 0 on success, 1 when the work failed, 2 for a wrong command line")
}
