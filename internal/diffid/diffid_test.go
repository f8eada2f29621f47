package diffid

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"
)

// tarSplitOf disassembles tarBytes and returns the tar-split JSON and the
// payloads by name.
func tarSplitOf(t *testing.T, tarBytes []byte) ([]byte, map[string][]byte) {
	var ts bytes.Buffer
	rdr, done, err := asm.NewInputTarStreamWithDone(bytes.NewReader(tarBytes), storage.NewJSONPacker(&ts), storage.NewDiscardFilePutter())
	require.NoError(t, err)
	defer rdr.Close()
	payloads := map[string][]byte{}
	tr := tar.NewReader(rdr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		payloads[path.Clean(h.Name)] = b
	}
	_, err = io.Copy(io.Discard, rdr)
	require.NoError(t, err)
	require.NoError(t, <-done)
	return ts.Bytes(), payloads
}

func TestComputeReproducesTheTar(t *testing.T) {
	tarBytes := testutil.TarBytes(t, testutil.RichTree(2))
	ts, payloads := tarSplitOf(t, tarBytes)
	d, n, err := Compute(bytes.NewReader(ts), func(name string) (io.ReadCloser, error) {
		b, ok := payloads[path.Clean(name)]
		if !ok {
			return nil, os.ErrNotExist
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	})
	require.NoError(t, err)
	assert.Equal(t, digest.FromBytes(tarBytes), d)
	assert.Equal(t, int64(len(tarBytes)), n)
}

func TestComputeRejectsAWrongFile(t *testing.T) {
	tarBytes := testutil.TarBytes(t, testutil.RichTree(2))
	ts, payloads := tarSplitOf(t, tarBytes)
	var victim string
	for name, b := range payloads {
		if len(b) > 100 {
			victim = name
			break
		}
	}
	require.NotEmpty(t, victim)
	_, _, err := Compute(bytes.NewReader(ts), func(name string) (io.ReadCloser, error) {
		b := payloads[path.Clean(name)]
		if path.Clean(name) == victim {
			b = append([]byte(nil), b...)
			b[50] ^= 0xff
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tar-split")
}

func TestComputeReportsOpenErrors(t *testing.T) {
	tarBytes := testutil.TarBytes(t, testutil.RichTree(2))
	ts, _ := tarSplitOf(t, tarBytes)
	boom := errors.New("gone")
	_, _, err := Compute(bytes.NewReader(ts), func(string) (io.ReadCloser, error) { return nil, boom })
	require.ErrorIs(t, err, boom)
}
