package fetch_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/fetch"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
)

// TestFetchSmallWindows fetches with windows of a few ranges, so that
// windows end inside files (handed over to the next window's first call),
// calls of different windows run concurrently and clamped ranges fill a
// window by themselves.
func TestFetchSmallWindows(t *testing.T) {
	blob, files, want := rawLayout(11, 300)
	for _, w := range [][2]int{{1, 1}, {3, 2}, {7, 1000}} {
		for _, o := range []fetch.Options{
			{Codec: fetch.Raw},
			{Codec: fetch.Raw, Concurrency: 3, MaxRangesPerRequest: 2, AutoMergeGap: -1, RequestCost: 1},
			{Codec: fetch.Raw, Concurrency: 4, MaxRangesPerRequest: 1, AutoMergeGap: -1, RequestCost: 1},
			{Codec: fetch.Raw, MinCalls: 2},
		} {
			t.Run(fmt.Sprintf("window%v/%+v", w, o), func(t *testing.T) {
				leakCheck(t)
				defer fetch.SetWindow(w[0], w[1])()
				if st := fetchAndCheck(t, testutil.NewSource(blob), files, want, o); st.Files != len(files) {
					t.Errorf("stats %+v; %d files", st, len(files))
				}
			})
		}
	}
	// A refusal halves the calls of the windows planned later too.
	t.Run("halving", func(t *testing.T) {
		leakCheck(t)
		defer fetch.SetWindow(20, 20)()
		fetchHalving(t, testutil.NewSource(blob, testutil.RefuseMoreThan(3)), files, want)
	})
}

// TestFetchInvalidLater: a file found invalid by the planner while earlier
// windows are already being fetched fails the fetch with its error, and
// every file opened is closed.
func TestFetchInvalidLater(t *testing.T) {
	leakCheck(t)
	defer fetch.SetWindow(2, 2)()
	blob, files, _ := rawLayout(12, 200)
	files = append([]fetch.File(nil), files...)
	bad := len(files) - 5
	files[bad] = fetch.File{Name: "bad", Size: 5}
	sink := newDirSink(t)
	_, err := fetch.Fetch(context.Background(), testutil.NewSource(blob), files, sink, manyRanges)
	var fe *fetch.FileError
	if !errors.Is(err, fetch.ErrInvalidInput) || !errors.As(err, &fe) || fe.File != "bad" {
		t.Fatalf("err %v", err)
	}
	sink.checkAllClosed(t)
	if len(sink.verified()) >= bad {
		t.Errorf("%d files verified, the bad one is %d", len(sink.verified()), bad)
	}
}
