package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/chunkdiff/chunkdiff/differ"
	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/formats"
	"github.com/chunkdiff/chunkdiff/formats/estargz"
	"github.com/chunkdiff/chunkdiff/internal/fetch"
	"github.com/klauspost/compress/zstd"
)

// explain turns a pull's error into one that names the user's input and the
// likely cause. Interrupts are left as they are: main reports them.
func explain(ctx context.Context, l *layer, err error) error {
	if err == nil || ctx.Err() != nil {
		return err
	}
	var ue usageError
	if errors.As(err, &ue) {
		return err
	}
	var fe *differ.FallbackError
	if errors.As(err, &fe) {
		if fe.Reason.Code == states.CodeNoTOC {
			where := "no annotations file at " + l.annPath
			if l.annFound {
				where = "no TOC annotation in " + l.annPath
			}
			return fmt.Errorf("%s is not a zstd:chunked or eStargz layer (it is %s, %s): it can only be pulled whole; `chunkdiff convert` turns a tar, gzip or zstd layer into zstd:chunked",
				l.path, describeKind(l.path), where)
		}
		return fmt.Errorf("%s: %w", l.path, fe)
	}
	if mismatch(err) {
		return fmt.Errorf("%s: %w (is the blob truncated or damaged, or are the annotations in %s those of another blob?)", l.path, err, l.annPath)
	}
	if errors.Is(err, syscall.EPERM) && os.Geteuid() != 0 {
		return fmt.Errorf("%s: %w (applying a layer sets its files' owners, which needs root: run as root)", l.path, err)
	}
	if damaged(err) {
		return fmt.Errorf("%s: %w (the blob's contents do not match its table of contents: is the blob damaged, or not the one the annotations in %s describe?)", l.path, err, l.annPath)
	}
	return fmt.Errorf("%s: %w", l.path, err)
}

// damaged reports whether file contents failed verification or decoding.
func damaged(err error) bool {
	var de *fetch.DigestError
	return errors.As(err, &de) || errors.Is(err, zstd.ErrCRCMismatch) || errors.Is(err, fetch.ErrShortData) ||
		errors.Is(err, fetch.ErrShortStream)
}

// mismatch reports whether the annotations cannot describe the blob.
func mismatch(err error) bool {
	var (
		le *formats.LayoutError
		de *formats.DigestError
		ef *estargz.FooterError
	)
	return errors.As(err, &le) || errors.As(err, &de) || errors.As(err, &ef)
}
