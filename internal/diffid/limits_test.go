package diffid

import (
	"bytes"
	"errors"
	"io"
	"path"
	"runtime"
	"strings"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLimitLines(t *testing.T) {
	ok := "short\n" + strings.Repeat("x", 10) + "\n" + strings.Repeat("y", 10)
	b, err := io.ReadAll(LimitLines(strings.NewReader(ok), 10))
	require.NoError(t, err)
	assert.Equal(t, ok, string(b))
	_, err = io.ReadAll(LimitLines(strings.NewReader("a\nb\n"+strings.Repeat("z", 11)+"\n"), 10))
	var le *LineTooLongError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, int64(3), le.Line)
	assert.ErrorIs(t, err, ErrLineTooLong)

	var out bytes.Buffer
	w := LimitLineWriter(&out, 10)
	_, err = w.Write([]byte("0123456789\n012345"))
	require.NoError(t, err)
	_, err = w.Write([]byte("6789x"))
	assert.ErrorIs(t, err, ErrLineTooLong, "the limit spans writes")
}

// Reassembly allocates a bounded amount however long a hostile line is.
func TestComputeLineBomb(t *testing.T) {
	bomb := `{"type":2,"payload":"` + strings.Repeat("A", 64<<20) + "\"}\n"
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := Compute(strings.NewReader(bomb), func(string) (io.ReadCloser, error) { return nil, errors.New("unused") })
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, ErrLineTooLong)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d MiB allocated for a 64 MiB line", alloc>>20)
	assert.Less(t, alloc, uint64(6*MaxTarSplitLine), "the JSON decoder buffer doubles up to the limit")
}

// A staged file longer or shorter than its tar-split entry is an error, not
// a different tar.
func TestComputeExactPayloadSizes(t *testing.T) {
	tarBytes := testutil.TarBytes(t, testutil.RichTree(2))
	ts, payloads := tarSplitOf(t, tarBytes)
	var victim string
	for name, b := range payloads {
		if len(b) > 100 {
			victim = name
			break
		}
	}
	for _, edit := range []func([]byte) []byte{
		func(b []byte) []byte { return append(append([]byte(nil), b...), 'x') },
		func(b []byte) []byte { return b[:len(b)-1] },
	} {
		_, _, err := Compute(bytes.NewReader(ts), func(name string) (io.ReadCloser, error) {
			b := payloads[path.Clean(name)]
			if path.Clean(name) == victim {
				b = edit(b)
			}
			return io.NopCloser(bytes.NewReader(b)), nil
		})
		var pe *PayloadError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, victim, path.Clean(pe.Name))
		assert.ErrorIs(t, err, ErrPayload)
	}
}
