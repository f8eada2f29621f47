package differ

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
)

// envChownChild makes the test binary run the child half of
// TestIgnoreChownErrors: its value is the directory to apply into.
const envChownChild = "CHUNKDIFF_TEST_CHOWN_CHILD"

func chownLayer(t *testing.T) testutil.Layer {
	t.Helper()
	owned := func(typ byte, name string, data []byte) testutil.Entry {
		h := &tar.Header{Typeflag: typ, Name: name, Mode: 0o755, Uid: 1234, Gid: 1234, Size: int64(len(data))}
		if typ == tar.TypeReg {
			h.Mode = 0o644
		}
		return testutil.Entry{Header: h, Data: data}
	}
	return testutil.ZstdChunked(t, testutil.TarBytes(t, []testutil.Entry{
		owned(tar.TypeDir, "etc/", nil),
		owned(tar.TypeReg, "etc/owned", []byte("owned by 1234\n")),
	}))
}

// IgnoreChownErrors, as for rootless users without subordinate IDs: in a
// user namespace where only ID 0 is mapped, chown to 1234 fails. With the
// option the layer is applied and the files keep the namespace's owner;
// without it the apply fails naming the chown.
func TestIgnoreChownErrors(t *testing.T) {
	if dir := os.Getenv(envChownChild); dir != "" {
		chownChild(t, dir)
		return
	}
	for _, ignore := range []bool{true, false} {
		dest := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestIgnoreChownErrors$", "-test.count=1")
		cmd.Env = append(os.Environ(), envChownChild+"="+dest, "CHUNKDIFF_TEST_IGNORE="+map[bool]string{true: "1", false: "0"}[ignore])
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		}
		out, err := cmd.CombinedOutput()
		if ignore {
			require.NoError(t, err, "%s", out)
			st, err := os.Stat(filepath.Join(dest, "etc", "owned"))
			require.NoError(t, err)
			assert.Equal(t, uint32(os.Getuid()), st.Sys().(*syscall.Stat_t).Uid, "kept the namespace's owner")
			data, err := os.ReadFile(filepath.Join(dest, "etc", "owned"))
			require.NoError(t, err)
			assert.Equal(t, "owned by 1234\n", string(data))
		} else {
			require.Error(t, err, "%s", out)
			assert.Contains(t, string(out), "chown")
		}
	}
}

func chownChild(t *testing.T, dest string) {
	l := chownLayer(t)
	d, err := Open(t.Context(), enabled, l.Digest, l.Size(), l.Annotations, testutil.NewSource(l.Blob))
	require.NoError(t, err)
	defer d.Close()
	ignore := os.Getenv("CHUNKDIFF_TEST_IGNORE") == "1"
	_, err = d.ApplyDiff(dest, &archive.TarOptions{IgnoreChownErrors: ignore}, &graphdriver.DifferOptions{})
	if err != nil {
		t.Fatalf("apply (IgnoreChownErrors=%v): %v", ignore, strings.ReplaceAll(err.Error(), "\n", " "))
	}
}
