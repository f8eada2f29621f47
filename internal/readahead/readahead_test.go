package readahead

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand"
	"runtime"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPassesEverythingThrough(t *testing.T) {
	data := make([]byte, 5<<20+123)
	rand.New(rand.NewSource(1)).Read(data)
	for _, newReader := range []func(io.Reader, int, int, hash.Hash) *Reader{New, NewFilling} {
		ra := newReader(iotest.HalfReader(bytes.NewReader(data)), 64<<10, 3, nil)
		got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(ra, 1000)))
		require.NoError(t, err)
		rest, err := io.ReadAll(ra)
		require.NoError(t, err)
		assert.Equal(t, data, append(got, rest...))
		require.NoError(t, ra.Close())
	}
}

func TestReportsErrorsAndStops(t *testing.T) {
	boom := errors.New("boom")
	ra := New(io.MultiReader(bytes.NewReader(make([]byte, 100)), iotest.ErrReader(boom)), 64, 2, nil)
	_, err := io.ReadAll(ra)
	require.ErrorIs(t, err, boom)
	require.NoError(t, ra.Close())

	// Closing early stops the goroutine even with data left.
	before := runtime.NumGoroutine()
	ra = New(bytes.NewReader(make([]byte, 10<<20)), 4096, 2, nil)
	_, err = ra.Read(make([]byte, 10))
	require.NoError(t, err)
	require.NoError(t, ra.Close())
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before)
}

func TestHashesWhatItReads(t *testing.T) {
	data := make([]byte, 3<<20+7)
	rand.New(rand.NewSource(2)).Read(data)
	h := sha256.New()
	ra := New(iotest.HalfReader(bytes.NewReader(data)), 64<<10, 2, h)
	got, err := io.ReadAll(ra)
	require.NoError(t, err)
	require.NoError(t, ra.Close())
	assert.Equal(t, data, got)
	want := sha256.Sum256(data)
	assert.Equal(t, want[:], h.Sum(nil))
}

// What a slow source has is passed on at once, not held until a buffer
// fills: a stream's consumer sees (and can refuse) the first bytes while
// the producer waits.
func TestPassesPartialReadsOnAtOnce(t *testing.T) {
	pr, pw := io.Pipe()
	ra := New(pr, 1<<20, 2, nil)
	defer func() {
		_ = pw.Close()
		_ = ra.Close()
	}()
	go func() { _, _ = pw.Write([]byte("abc")) }()
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 3)
		n, err := io.ReadFull(ra, b)
		got <- fmt.Sprint(string(b[:n]), err)
	}()
	select {
	case g := <-got:
		assert.Equal(t, "abc<nil>", g)
	case <-time.After(5 * time.Second):
		t.Fatal("3 bytes written, none passed on")
	}
}
