package differ

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordFor is fetch file k's test record: some long enough to need a
// second read (past recordPeek).
func recordFor(k int) []byte {
	r := fmt.Appendf(nil, "record of fetch file %d;", k)
	if k%7 == 0 {
		r = append(r, strings.Repeat("x", recordPeek+k)...)
	}
	return r
}

// Records added out of order from several goroutines read back by fetch
// index, by lookup and by scan, marks included; files without a record
// have none.
func TestFetchRecordsByFetchIndex(t *testing.T) {
	const files = 3000
	s := newFetchRecords("test records", t.TempDir(), files)
	t.Cleanup(func() { _ = s.close() })
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for k := files - 1 - w; k >= 0; k -= 4 {
				if k%3 != 0 { // every third file has a record
					continue
				}
				assert.NoError(t, s.add(k, recordFor(k)))
			}
		})
	}
	wg.Wait()
	require.NoError(t, s.finish())
	require.Equal(t, (files+2)/3, s.len())
	require.Error(t, s.add(files, nil), "beyond the fetch files")

	for k := 0; k < files; k += 3 {
		off, ok, err := s.lookup(k)
		require.NoError(t, err)
		require.True(t, ok, "fetch file %d", k)
		if k%2 == 0 {
			require.NoError(t, s.mark(k, off))
		}
	}
	sc := s.scan()
	for k := range files {
		off, ok, marked, err := sc.next()
		require.NoError(t, err)
		require.Equal(t, k%3 == 0, ok, "fetch file %d has a record", k)
		if !ok {
			continue
		}
		assert.Equal(t, k%2 == 0, marked, "fetch file %d is marked", k)
		rec, err := s.read(off)
		require.NoError(t, err)
		require.True(t, bytes.Equal(recordFor(k), rec), "fetch file %d's record", k)
	}
	_, _, _, err := sc.next()
	assert.Error(t, err, "past the last fetch file")
}

// Without any record nothing is spooled and every file reads as none.
func TestFetchRecordsEmpty(t *testing.T) {
	s := newFetchRecords("test records", t.TempDir(), 10)
	require.NoError(t, s.finish())
	_, ok, err := s.lookup(3)
	require.NoError(t, err)
	assert.False(t, ok)
	_, ok, _, err = s.scan().next()
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Nil(t, s.recs, "no temp file")
	require.NoError(t, s.close())
}

// The cache keeps at most maxOpenSources idle sources open, never closes
// one being read, and reopens an evicted one.
func TestSourceCacheBound(t *testing.T) {
	smallSourceCache(t)
	dir := t.TempDir()
	n := 3 * maxOpenSources
	locs := make([]location, n)
	for i := range locs {
		p := filepath.Join(dir, fmt.Sprint(i))
		require.NoError(t, os.WriteFile(p, []byte(fmt.Sprint(i)), 0o644))
		locs[i] = location{path: p, trusted: true}
	}
	opened := 0
	c := newSourceCache(func(l location) *os.File {
		opened++
		f, err := os.Open(l.path)
		if err != nil {
			return nil
		}
		return f
	})
	held := c.acquire(locs[0]) // being read throughout
	require.NotNil(t, held)
	for round := range 2 {
		for i, l := range locs {
			s := c.acquire(l)
			require.NotNil(t, s, "round %d, source %d", round, i)
			b := make([]byte, 8)
			m, _ := s.f.ReadAt(b, 0)
			assert.Equal(t, fmt.Sprint(i), string(b[:m]))
			c.release(s)
			assert.LessOrEqual(t, len(c.byKey), maxOpenSources)
		}
	}
	assert.Greater(t, opened, n, "evicted sources are reopened")
	b := make([]byte, 1)
	_, err := held.f.ReadAt(b, 0)
	assert.NoError(t, err, "a source being read is never closed")
	c.release(held)
	assert.Nil(t, c.acquire(location{path: filepath.Join(dir, "missing"), trusted: true}))
	c.close()
	assert.Nil(t, c.acquire(locs[1]), "closed")
	_, err = localSource{c, locs[1]}.ReadAt(b, 0)
	assert.Error(t, err)
}

// smallSourceCache bounds the source cache to 64 idle files for the test,
// so a thousand sources cross the bound many times over.
func smallSourceCache(t *testing.T) {
	old := maxOpenSources
	maxOpenSources = 64
	t.Cleanup(func() { maxOpenSources = old })
}
