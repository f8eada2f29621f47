package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests in this file run the built binary, as a user does: exit code,
// stdout, stderr, and what is left on disk. The binary is built with the
// test hook (testhook.go), which only the interrupt tests use.

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "chunkdiff-cli-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "chunkdiff")
		out, err := exec.Command("go", "build", "-tags", "exclude_graphdriver_btrfs,chunkdiff_testhook", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = errors.New(string(out))
		}
	})
	require.NoError(t, binErr, "building the binary")
	return binPath
}

type result struct {
	stdout, stderr string
	code           int
}

// runBin runs the binary with args; env adds KEY=VALUE entries.
func runBin(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running chunkdiff: %v", err)
	}
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// interruptBin runs the binary with the stall hook at the given request or
// read, sends sig once it stalled (mid-work), and returns what it did.
func interruptBin(t *testing.T, stallAt string, sig syscall.Signal, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), stallEnv+"="+stallAt)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	pipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var stderr strings.Builder
	stalled := make(chan bool, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pipe)
		seen := false
		for sc.Scan() {
			stderr.WriteString(sc.Text() + "\n")
			if !seen && sc.Text() == stallMarker {
				seen = true
				stalled <- true
			}
		}
		if !seen {
			stalled <- false
		}
	}()
	select {
	case ok := <-stalled:
		require.True(t, ok, "the command ended before the stall point")
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("the command never reached the stall point")
	}
	require.NoError(t, cmd.Process.Signal(sig))
	<-copied
	err = cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("waiting for chunkdiff: %v", err)
	}
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// listing is every path under dir with its type and size (and content
// digest for files): equal listings mean nothing was added, removed or
// changed.
func listing(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		desc := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + digest.FromBytes(b).Encoded()[:16]
		}
		out[rel] = desc
		return nil
	}))
	return out
}

// bigLayer writes a zstd:chunked layer with enough files that fetching
// them takes several requests, and returns the blob path.
func bigLayer(t *testing.T) (string, testutil.Layer) {
	t.Helper()
	l := testutil.ZstdChunked(t, testutil.TarBytes(t, testutil.RichTree(8)))
	return writeLayer(t, l, "layer"), l
}

// corruptContent flips a byte in the middle of the first file with
// content, which only fetching that file notices.
func corruptContent(t *testing.T, l testutil.Layer) testutil.Layer {
	t.Helper()
	raw, _ := testutil.TOC(t, l)
	var doc struct {
		Entries []struct {
			Type      string `json:"type"`
			Offset    int64  `json:"offset"`
			EndOffset int64  `json:"endOffset"`
		} `json:"entries"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	for _, e := range doc.Entries {
		if (e.Type == "reg" || e.Type == "chunk") && e.EndOffset > e.Offset+16 {
			l.Blob = bytes.Clone(l.Blob)
			l.Blob[(e.Offset+e.EndOffset)/2] ^= 0xff
			return l
		}
	}
	t.Fatal("no file with content")
	return l
}

func TestBinaryVersion(t *testing.T) {
	r := runBin(t, nil, "--version")
	assert.Equal(t, 0, r.code)
	assert.Regexp(t, `^chunkdiff version \S+\n$`, r.stdout)
}
