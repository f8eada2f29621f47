package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Download writes the whole blob to w, verifying its size and digest; a
// connection that breaks is resumed where it stopped. This is the ordinary
// download a caller falls back to: if the registry already answered a range
// request with the whole blob, that response is read on instead of asking
// again.
func (b *Blob) Download(ctx context.Context, w io.Writer) error {
	b.mu.Lock()
	parked := b.parked
	b.parked = nil
	b.mu.Unlock()
	if parked != nil {
		return b.download(ctx, parked, w)
	}
	resp, err := b.get(ctx, "")
	if err != nil {
		return fmt.Errorf("blob %s: %w", b.digest, err)
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		return fmt.Errorf("blob %s: %w", b.digest, b.statusError(resp, ""))
	}
	return b.download(ctx, resp, w)
}

// download copies the whole-blob response resp (then resumes) into w.
func (b *Blob) download(ctx context.Context, resp *http.Response, w io.Writer) error {
	if !b.digest.Algorithm().Available() {
		_ = resp.Body.Close()
		return fmt.Errorf("blob %s: digest algorithm not available", b.digest)
	}
	h := b.digest.Algorithm().Digester()
	out := io.MultiWriter(markWrites{w}, h.Hash())
	var n int64
	stalls, resumes := 0, 0
	for {
		m, err := io.Copy(out, io.LimitReader(resp.Body, b.size-n+1))
		_ = resp.Body.Close()
		n += m
		if m > 0 {
			stalls = 0
		}
		if err == nil {
			break // the body ended: check below
		}
		if cerr := context.Cause(ctx); cerr != nil {
			return cerr
		}
		var werr *writeError
		if errors.As(err, &werr) {
			return err
		}
		if stalls++; stalls > b.c.opts.Retries {
			return fmt.Errorf("blob %s: download broke at %d of %d bytes %d times in a row: %w", b.digest, n, b.size, stalls, err)
		}
		if resumes++; resumes > 16*(b.c.opts.Retries+1) {
			return fmt.Errorf("blob %s: download broke %d times: %w", b.digest, resumes, err)
		}
		if err := sleep(ctx, b.c.opts.Backoff<<(stalls-1)); err != nil {
			return err
		}
		if resp, err = b.resumeWhole(ctx, n); err != nil {
			return err
		}
	}
	if n != b.size {
		return fmt.Errorf("blob %s: %w: got %d bytes, want %d", b.digest, ErrBadResponse, n, b.size)
	}
	if got := h.Digest(); got != b.digest {
		return fmt.Errorf("blob %s: %w: downloaded bytes have digest %s", b.digest, ErrBadResponse, got)
	}
	return nil
}

// resumeWhole asks for the blob from offset n on. A registry that ignores
// the range sends it all again: the first n bytes are skipped.
func (b *Blob) resumeWhole(ctx context.Context, n int64) (*http.Response, error) {
	hdr := "bytes=" + strconv.FormatInt(n, 10) + "-"
	resp, err := b.get(ctx, hdr)
	if err != nil {
		return nil, fmt.Errorf("blob %s: resuming at %d: %w", b.digest, n, err)
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		got, total, err := contentRange(resp.Header.Get("Content-Range"))
		if err != nil || got.off != n || (total >= 0 && total != b.size) {
			_ = resp.Body.Close()
			return nil, fmt.Errorf("blob %s: %w: resuming with %s got %q", b.digest, ErrBadResponse, hdr, resp.Header.Get("Content-Range"))
		}
		return resp, nil
	case http.StatusOK:
		return b.skip(resp, n)
	case http.StatusBadRequest, http.StatusRequestedRangeNotSatisfiable, http.StatusNotImplemented:
		// No ranges at all: start over and skip what we have.
		_ = resp.Body.Close()
		if resp, err = b.get(ctx, ""); err != nil {
			return nil, fmt.Errorf("blob %s: restarting at %d: %w", b.digest, n, err)
		}
		if resp.StatusCode != http.StatusOK {
			_ = resp.Body.Close()
			return nil, fmt.Errorf("blob %s: %w", b.digest, b.statusError(resp, ""))
		}
		return b.skip(resp, n)
	default:
		_ = resp.Body.Close()
		return nil, fmt.Errorf("blob %s: %w", b.digest, b.statusError(resp, hdr))
	}
}

// skip reads past the n bytes of a whole-blob response already written.
func (b *Blob) skip(resp *http.Response, n int64) (*http.Response, error) {
	if _, err := io.CopyN(io.Discard, resp.Body, n); err != nil {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("blob %s: resuming at %d: %w", b.digest, n, err)
	}
	return resp, nil
}

// writeError marks errors of the destination, which are not retried.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

type markWrites struct{ w io.Writer }

func (m markWrites) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}
