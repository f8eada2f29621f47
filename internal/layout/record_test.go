package layout

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Many files whose last chunk ends at the next file's payload: the open
// ends are patched both in the write buffer and in the file, and ReadAt
// gives back what the scan gives.
func TestSpooledLayoutRoundTrip(t *testing.T) {
	const n = 5000
	var b strings.Builder
	b.WriteString(`{"version":1,"entries":[`)
	for i := range n {
		off := 100 + 1000*i
		fmt.Fprintf(&b, `{"type":"reg","name":"f%d","size":20,"offset":%d,"chunkSize":10,"digest":"sha256:%064d","chunkDigest":"sha256:aa","xattrs":{"user.x":"eA=="},"modtime":"2020-01-02T03:04:05.5+01:00","uid":%d},`, i, off, i, i)
		fmt.Fprintf(&b, `{"type":"chunk","name":"f%d","offset":%d,"chunkOffset":10,"chunkSize":10,"chunkType":"zeros"},`, i, off+500)
		fmt.Fprintf(&b, `{"type":"symlink","name":"l%d","linkName":"f%d"},`, i, i)
	}
	b.WriteString(`{"type":"weird","name":"w"}]}`)
	l, err := Build(toc.NewDecoder(strings.NewReader(b.String())), Options{DataEnd: 100 + 1000*n})
	require.NoError(t, err)
	defer func() { _ = l.Close() }()
	require.Equal(t, 2*n+1, l.Len())
	require.Equal(t, n, l.Files())
	s := l.Scan()
	i := 0
	for s.Next() {
		it := s.Item()
		back, err := l.ReadAt(s.Offset())
		require.NoError(t, err)
		assert.Equal(t, *it, back)
		switch {
		case i == 2*n:
			assert.Equal(t, "weird", it.Entry.Type)
		case i%2 == 0:
			k := int64(i / 2)
			e := it.Entry
			assert.Equal(t, toc.TypeReg, e.Type)
			assert.Equal(t, fmt.Sprintf("f%d", k), e.Name)
			assert.Equal(t, int(k), e.UID)
			assert.Equal(t, map[string]string{"user.x": "eA=="}, e.Xattrs)
			assert.True(t, e.ModTime.Equal(time.Date(2020, 1, 2, 2, 4, 5, 5e8, time.UTC)))
			assert.Equal(t, []Chunk{
				{Offset: 100 + 1000*k, End: 600 + 1000*k, Size: 10, Digest: "sha256:aa"},
				{Offset: 600 + 1000*k, End: 1100 + 1000*k, FileOffset: 10, Size: 10, Zeros: true},
			}, it.Chunks, "the last chunk ends at the next file's payload or the data end")
		default:
			assert.Equal(t, toc.TypeSymlink, it.Entry.Type)
			assert.Empty(t, it.Chunks)
		}
		i++
	}
	require.NoError(t, s.Err())
	assert.Equal(t, 2*n+1, i)
}
