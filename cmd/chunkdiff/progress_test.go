package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --progress prints how much was read to stderr while the work goes on
// (here stalled on its second request), even when stderr is not a terminal.
func TestProgressOnRequest(t *testing.T) {
	blob, l := bigLayer(t)
	dest := filepath.Join(t.TempDir(), "tree")
	cmd := exec.Command(binary(t), "apply", blob, "--dest", dest, "--progress")
	cmd.Env = append(os.Environ(), stallEnv+"=2")
	pipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var progress string
	deadline := time.After(time.Minute)
	for progress == "" {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "ended without a progress line")
			if strings.HasPrefix(line, blob+": read ") {
				progress = line
			}
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatal("no progress line")
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	for range lines {
	}
	_ = cmd.Wait()
	assert.Regexp(t, `: read \d+ B .*of `+regexp.QuoteMeta(size(l.Size()))+` \([0-9.]+%\) in 1 range request$`, progress)
}

// Without --progress and without a terminal, stderr stays quiet.
func TestNoProgressByDefault(t *testing.T) {
	blob, _ := bigLayer(t)
	r := runBin(t, nil, "apply", blob, "--dest", filepath.Join(t.TempDir(), "tree"))
	require.Equal(t, 0, r.code)
	assert.Empty(t, r.stderr)
}

// convert --progress reports how much of the input was read.
func TestConvertProgress(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "layer.tar")
	require.NoError(t, os.WriteFile(in, testutil.TarBytes(t, testutil.RichTree(8)), 0o644))
	cmd := exec.Command(binary(t), "convert", in, filepath.Join(dir, "out.tar.zst"), "--progress")
	cmd.Env = append(os.Environ(), stallEnv+"=3")
	pipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(pipe)
	var progress string
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), in+": read ") {
			progress = sc.Text()
			break
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	for sc.Scan() {
	}
	_ = cmd.Wait()
	assert.Regexp(t, `: read \d+ B .*\([0-9.]+%\)$`, progress)
}
