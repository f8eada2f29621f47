package source

import (
	"bytes"
	"io"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.podman.io/storage/pkg/chunked"
)

func blob(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(1)).Read(b)
	return b
}

// drain consumes a response the way a well-behaved consumer must.
func drain(t *testing.T, streams chan io.ReadCloser, errs chan error) ([][]byte, []error) {
	t.Helper()
	var out [][]byte
	var es []error
	for streams != nil || errs != nil {
		select {
		case s, ok := <-streams:
			if !ok {
				streams = nil
				continue
			}
			b, err := io.ReadAll(s)
			require.NoError(t, err)
			require.NoError(t, s.Close())
			out = append(out, b)
		case e, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			es = append(es, e)
		}
	}
	return out, es
}

func TestGetBlobAtServesRangesInOrder(t *testing.T) {
	b := blob(1000)
	s := NewReaderAt(bytes.NewReader(b), int64(len(b)))
	chunks := []chunked.ImageSourceChunk{{Offset: 0, Length: 10}, {Offset: 10, Length: 5}, {Offset: 500, Length: 1}, {Offset: 900, Length: math.MaxUint64}}
	streams, errs, err := s.GetBlobAt(chunks)
	require.NoError(t, err)
	got, es := drain(t, streams, errs)
	require.Empty(t, es)
	require.Equal(t, [][]byte{b[0:10], b[10:15], b[500:501], b[900:]}, got)
	require.Equal(t, Stats{Requests: 1, Ranges: 4, Bytes: 10 + 5 + 1 + 100}, s.Stats())
}

func TestGetBlobAtRejectsBadRequests(t *testing.T) {
	b := blob(100)
	s := NewReaderAt(bytes.NewReader(b), int64(len(b)))
	for name, tc := range map[string]struct {
		chunks []chunked.ImageSourceChunk
		want   string
	}{
		"empty":            {nil, "empty"},
		"unsorted":         {[]chunked.ImageSourceChunk{{Offset: 50, Length: 1}, {Offset: 10, Length: 1}}, "range 1"},
		"overlap":          {[]chunked.ImageSourceChunk{{Offset: 10, Length: 10}, {Offset: 19, Length: 1}}, "range 1"},
		"past end":         {[]chunked.ImageSourceChunk{{Offset: 90, Length: 11}}, "range 0"},
		"start at end":     {[]chunked.ImageSourceChunk{{Offset: 0, Length: 1}, {Offset: 100, Length: 1}}, "range 1"},
		"zero length":      {[]chunked.ImageSourceChunk{{Offset: 5, Length: 0}}, "zero length"},
		"to-end not last":  {[]chunked.ImageSourceChunk{{Offset: 5, Length: math.MaxUint64}, {Offset: 90, Length: 1}}, "range 0"},
		"overflowing span": {[]chunked.ImageSourceChunk{{Offset: 5, Length: math.MaxUint64 - 1}}, "range 0"},
	} {
		t.Run(name, func(t *testing.T) {
			streams, errs, err := s.GetBlobAt(tc.chunks)
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, streams)
			require.Nil(t, errs)
		})
	}
	require.Zero(t, s.Stats().Requests)
}

// The next stream must not be produced until the current one is done.
func TestGetBlobAtWaitsForConsumer(t *testing.T) {
	b := blob(100)
	s := NewReaderAt(bytes.NewReader(b), int64(len(b)))
	streams, errs, err := s.GetBlobAt([]chunked.ImageSourceChunk{{Offset: 0, Length: 10}, {Offset: 20, Length: 10}})
	require.NoError(t, err)
	first := <-streams
	select {
	case <-streams:
		t.Fatal("second stream produced before the first was closed")
	case <-time.After(50 * time.Millisecond):
	}
	// A partial read does not release the producer; Close does.
	buf := make([]byte, 3)
	_, err = first.Read(buf)
	require.NoError(t, err)
	require.NoError(t, first.Close())
	_, err = first.Read(buf)
	require.ErrorIs(t, err, errStreamClosed)
	second := <-streams
	got, err := io.ReadAll(second)
	require.NoError(t, err)
	require.Equal(t, b[20:30], got)
	// Fully read without Close also releases it.
	_, ok := <-streams
	require.False(t, ok)
	_, ok = <-errs
	require.False(t, ok)
}

// A backing reader shorter than the declared size yields ErrUnexpectedEOF.
func TestGetBlobAtShortBackingReader(t *testing.T) {
	b := blob(50)
	s := NewReaderAt(bytes.NewReader(b), 100)
	streams, errs, err := s.GetBlobAt([]chunked.ImageSourceChunk{{Offset: 40, Length: 20}})
	require.NoError(t, err)
	st := <-streams
	_, err = io.ReadAll(st)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	st.Close()
	_, es := drain(t, streams, errs)
	require.Empty(t, es)
}

func TestOpenFile(t *testing.T) {
	b := blob(4096)
	p := filepath.Join(t.TempDir(), "blob")
	require.NoError(t, os.WriteFile(p, b, 0o644))
	f, err := OpenFile(p)
	require.NoError(t, err)
	defer f.Close()
	require.EqualValues(t, len(b), f.Size())
	streams, errs, err := f.GetBlobAt([]chunked.ImageSourceChunk{{Offset: 100, Length: 200}, {Offset: 4000, Length: math.MaxUint64}})
	require.NoError(t, err)
	got, es := drain(t, streams, errs)
	require.Empty(t, es)
	require.Equal(t, [][]byte{b[100:300], b[4000:]}, got)

	_, err = OpenFile(filepath.Join(t.TempDir(), "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = OpenFile(t.TempDir())
	require.ErrorContains(t, err, "not a regular file")
}

// Concurrent requests on one source, and no goroutine left behind once every
// response was drained.
func TestGetBlobAtConcurrentNoLeak(t *testing.T) {
	b := blob(1 << 16)
	s := NewReaderAt(bytes.NewReader(b), int64(len(b)))
	before := runtime.NumGoroutine()
	done := make(chan struct{})
	for g := 0; g < 8; g++ {
		go func(g int) {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 50; i++ {
				off := uint64((g*50 + i) * 100)
				streams, errs, err := s.GetBlobAt([]chunked.ImageSourceChunk{{Offset: off, Length: 10}, {Offset: off + 50, Length: 7}})
				if err != nil {
					t.Error(err)
					return
				}
				// Close without reading: must also release the producer.
				for st := range streams {
					st.Close()
				}
				for range errs {
				}
			}
		}(g)
	}
	for g := 0; g < 8; g++ {
		<-done
	}
	require.EqualValues(t, 400, s.Stats().Requests)
	requireNoLeak(t, before)
}

func requireNoLeak(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutines: before %d, now %d\n%s", before, runtime.NumGoroutine(), strings.TrimSpace(string(buf[:n])))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func BenchmarkGetBlobAt(b *testing.B) {
	data := blob(64 << 20)
	s := NewReaderAt(bytes.NewReader(data), int64(len(data)))
	// 256 ranges of 64 KiB spread over the blob, as a differ fetching chunks would.
	chunks := make([]chunked.ImageSourceChunk, 256)
	for i := range chunks {
		chunks[i] = chunked.ImageSourceChunk{Offset: uint64(i) * 256 << 10, Length: 64 << 10}
	}
	buf := make([]byte, 32<<10)
	b.SetBytes(256 * 64 << 10)
	b.ReportAllocs()
	for b.Loop() {
		streams, errs, err := s.GetBlobAt(chunks)
		if err != nil {
			b.Fatal(err)
		}
		for st := range streams {
			if _, err := io.CopyBuffer(io.Discard, st, buf); err != nil {
				b.Fatal(err)
			}
			st.Close()
		}
		for err := range errs {
			b.Fatal(err)
		}
	}
}
