package fetch_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/fetch"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
)

func TestFetchZstdRichTree(t *testing.T) {
	leakCheck(t)
	l, files, want := richZstd(t)
	var zeros, multi int
	for _, f := range files {
		if len(f.Chunks) > 1 {
			multi++
		}
		for _, c := range f.Chunks {
			if c.Zeros {
				zeros++
			}
		}
	}
	if zeros == 0 || multi == 0 {
		t.Fatalf("layer lacks zero chunks (%d) or multi-chunk files (%d)", zeros, multi)
	}
	src := testutil.NewSource(l.Blob)
	sink := newDirSink(t)
	st, err := fetch.Fetch(context.Background(), src, files, sink, fetch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sink.checkContents(t, files, want)
	if st.Requests != 1 || st.Files != len(files) || st.HoleBytes == 0 {
		t.Errorf("stats %+v", st)
	}
	if st.BytesFetched != src.BytesServed() {
		t.Errorf("BytesFetched %d, source served %d", st.BytesFetched, src.BytesServed())
	}
	t.Logf("%d files, %d zero chunks; stats %+v", len(files), zeros, st)
}

// TestFetchEStargz runs the gzip path over real eStargz layers with several
// chunk sizes, so one reader is Reset across many members (the upstream
// pgzip reuse-after-Close panic lived here).
func TestFetchEStargz(t *testing.T) {
	// RichTree with its big files cut to 600 KiB: building eStargz under
	// -race is slow, and 600 KiB still makes several chunks at each size.
	entries := testutil.RichTree(2)
	for i := range entries {
		if len(entries[i].Data) > 600<<10 {
			entries[i].Data = entries[i].Data[:600<<10]
		}
	}
	tb := testutil.TarBytes(t, entries)
	want := tarContents(entries)
	for _, cs := range []int{4096, 64 << 10, 256 << 10} {
		t.Run(fmt.Sprint(cs), func(t *testing.T) {
			leakCheck(t)
			l := testutil.EStargz(t, tb, cs, nil)
			files := estargzFiles(t, l)
			multi := 0
			for _, f := range files {
				if len(f.Chunks) > 1 {
					multi++
				}
			}
			if multi == 0 {
				t.Fatalf("no multi-chunk files at chunk size %d", cs)
			}
			sink := newDirSink(t)
			st, err := fetch.Fetch(context.Background(), testutil.NewSource(l.Blob), files, sink, fetch.Options{Codec: fetch.Gzip})
			if err != nil {
				t.Fatal(err)
			}
			sink.checkContents(t, files, want)
			t.Logf("%d files, %d multi-chunk; %+v", len(files), multi, st)
		})
	}
}
