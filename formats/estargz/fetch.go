package estargz

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/chunkdiff/chunkdiff/internal/blob"
	"github.com/chunkdiff/chunkdiff/internal/blobstream"
)

// fetchRange requests one range, hands its stream to fn and then drains
// both channels whatever happened, so the producer never blocks or leaks
// (BEHAVIOUR.md "source-contract"). what names the range in the errors fetchRange makes;
// fn's errors are returned as they are.
func fetchRange(ctx context.Context, src blob.Source, c blob.Range, what string, fn func(io.Reader) error) error {
	r, err := blobstream.Get(ctx, src, []blob.Range{c}) // ends with ctx even if the source does not
	if err != nil {
		// A refusal stays matchable as blob.ErrRangesRefused.
		return fmt.Errorf("eStargz: requesting the %s: %w", what, err)
	}
	rc, err := r.Next(ctx)
	if err != nil {
		err = fmt.Errorf("eStargz %s: %w", what, err)
	} else {
		err = fn(rc)
		_ = rc.Close()
	}
	if ferr := r.Finish(ctx); ferr != nil {
		// Keep the source's own error next to ours: a short stream is
		// often explained by it.
		err = errors.Join(err, fmt.Errorf("eStargz %s: %w", what, ferr))
	}
	return err
}
