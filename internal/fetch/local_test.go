package fetch_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/fetch"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
)

// localize marks every other data chunk of multi-chunk files as available
// locally, from a copy of the file's content (as content reuse would).
func localize(t *testing.T, files []fetch.File, want map[string][]byte, corrupt bool) (int64, []fetch.File) {
	var local int64
	out := make([]fetch.File, len(files))
	for i, f := range files {
		f.Chunks = append([]fetch.Chunk(nil), f.Chunks...)
		content := bytes.Clone(want[f.Name])
		if corrupt && len(content) > 0 {
			content[len(content)-1] ^= 0xff
		}
		var off int64
		for j := range f.Chunks {
			c := &f.Chunks[j]
			if len(f.Chunks) > 1 && j%2 == 1 && !c.Zeros {
				c.Local, c.LocalOffset = bytes.NewReader(content), off
				local += c.Size
			}
			off += c.Size
		}
		out[i] = f
	}
	if local == 0 {
		t.Fatal("no chunk made local")
	}
	return local, out
}

func TestFetchLocalChunks(t *testing.T) {
	leakCheck(t)
	l, files, want := richZstd(t)
	local, files := localize(t, files, want, false)
	src := testutil.NewSource(l.Blob)
	sink := newDirSink(t)
	st, err := fetch.Fetch(context.Background(), src, files, sink, fetch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sink.checkContents(t, files, want)
	if st.LocalBytes != local {
		t.Errorf("LocalBytes %d, want %d", st.LocalBytes, local)
	}
	// The same layer without local chunks fetches more.
	full := testutil.NewSource(l.Blob)
	if _, err := fetch.Fetch(context.Background(), full, filesOf(t), newDirSink(t), fetch.Options{}); err != nil {
		t.Fatal(err)
	}
	if src.BytesServed() >= full.BytesServed() {
		t.Errorf("local chunks saved nothing: %d vs %d bytes", src.BytesServed(), full.BytesServed())
	}
}

func filesOf(t *testing.T) []fetch.File {
	_, files, _ := richZstd(t)
	return files
}

// A local source that changed since it was checked is caught by the digest.
func TestFetchLocalChunkChanged(t *testing.T) {
	leakCheck(t)
	l, files, want := richZstd(t)
	_, files = localize(t, files, want, true)
	sink := newDirSink(t)
	_, err := fetch.Fetch(context.Background(), testutil.NewSource(l.Blob), files, sink, fetch.Options{})
	var de *fetch.DigestError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a digest error", err)
	}
	sink.checkAllClosed(t)
}

// MinCalls spreads a local fetch over several calls, cut at file
// boundaries, so both workers run; the contents are the same.
func TestFetchMinCalls(t *testing.T) {
	leakCheck(t)
	blob, files, want := rawLayout(7, 1500)
	for _, minCalls := range []int{0, 2, 3} {
		src := testutil.NewSource(blob)
		sink := newDirSink(t)
		st, err := fetch.Fetch(context.Background(), src, files, sink, fetch.Options{Codec: fetch.Raw, MinCalls: minCalls})
		if err != nil {
			t.Fatal(err)
		}
		sink.checkContents(t, files, want)
		wantCalls := max(minCalls, 1)
		if len(blob) < wantCalls*(4<<20) {
			t.Fatalf("layout too small (%d bytes) to split", len(blob))
		}
		if st.Requests != wantCalls {
			t.Errorf("MinCalls %d: %d requests", minCalls, st.Requests)
		}
	}
}
