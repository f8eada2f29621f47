package seekable

import (
	"errors"
	"io"
	"testing"

	"github.com/chunkdiff/chunkdiff/internal/blob"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	"go.podman.io/storage/pkg/chunked"
)

func TestFromServesRanges(t *testing.T) {
	src := testutil.NewSource([]byte("0123456789"))
	ch, errs, err := From(src).GetBlobAt([]blob.Range{{Offset: 2, Length: 3}, {Offset: 8, Length: 2}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rc := range ch {
		b, _ := io.ReadAll(rc)
		_ = rc.Close()
		got = append(got, string(b))
	}
	for err := range errs {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "234" || got[1] != "89" {
		t.Errorf("got %q", got)
	}
}

func TestFromMapsRefusal(t *testing.T) {
	_, _, err := From(testutil.NewSource([]byte("x"), testutil.Refuse())).GetBlobAt([]blob.Range{{Offset: 0, Length: 1}})
	if !errors.Is(err, blob.ErrRangesRefused) {
		t.Fatalf("want ErrRangesRefused, got %v", err)
	}
	var bad chunked.ErrBadRequest
	if !errors.As(err, &bad) {
		t.Errorf("the source's ErrBadRequest is lost: %v", err)
	}
	boom := errors.New("boom")
	_, _, err = From(testutil.NewSource([]byte("x"), testutil.FailWith(boom))).GetBlobAt([]blob.Range{{Offset: 0, Length: 1}})
	if !errors.Is(err, boom) || errors.Is(err, blob.ErrRangesRefused) {
		t.Errorf("other errors must pass through unchanged: %v", err)
	}
}

func TestChunkedRoundTrip(t *testing.T) {
	if From(nil) != nil || Chunked(nil) != nil {
		t.Fatal("nil must stay nil")
	}
	src := testutil.NewSource([]byte("x"))
	if got := Chunked(From(src)); got != chunked.ImageSourceSeekable(src) {
		t.Errorf("Chunked(From(src)) is not src")
	}
	// A blob.Source that is no adapter: refusals come back as ErrBadRequest.
	other := Chunked(refusing{})
	_, _, err := other.GetBlobAt([]chunked.ImageSourceChunk{{Offset: 0, Length: 1}})
	var bad chunked.ErrBadRequest
	if !errors.As(err, &bad) || !errors.Is(err, blob.ErrRangesRefused) {
		t.Errorf("want ErrBadRequest and ErrRangesRefused, got %v", err)
	}
}

type refusing struct{}

func (refusing) GetBlobAt([]blob.Range) (chan io.ReadCloser, chan error, error) {
	return nil, nil, blob.ErrRangesRefused
}
