package estargz

import (
	"archive/tar"
	_ "crypto/sha512" // register sha384/sha512: any go-digest algorithm may be used
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/chunkdiff/chunkdiff/formats"
	"github.com/chunkdiff/chunkdiff/internal/spool"
	stargz "github.com/containerd/stargz-snapshotter/estargz"
	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
)

// tocTarSlack bounds what the TOC member may inflate to beyond the JSON
// itself: its tar header (PAX records included) and the end-of-archive
// blocks. The estargz writer needs 1.5 KiB; 1 MiB tolerates other tar
// writers (big PAX headers, 10 KiB record padding) while still stopping a
// gzip bomb hidden after the JSON.
const tocTarSlack = 1 << 20

// countingReader counts bytes, remembers the source's own error (so a
// network failure is not reported as a decompression error) and whether the
// source ended.
type countingReader struct {
	r   io.Reader
	n   int64
	eof bool
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	switch {
	case err == io.EOF:
		c.eof = true
	case err != nil && c.err == nil:
		c.err = err
	}
	return n, err
}

// readTOCMember reads the rangeLen-byte TOC gzip member from src, spools the
// TOC JSON to dst and checks its digest against want. It returns the JSON
// length. Until the digest has been checked dst holds unauthenticated data;
// callers discard it on error.
func readTOCMember(src io.Reader, rangeLen int64, maxTOC uint64, want digest.Digest, dst io.Writer) (int64, error) {
	cr := &countingReader{r: src}
	lr := io.LimitReader(cr, rangeLen)
	n, decErr := inflateTOC(lr, maxTOC, want, dst)
	var de *formats.DigestError
	if decErr != nil && !errors.As(decErr, &de) {
		decErr = fmt.Errorf("eStargz TOC: %w", decErr)
	}
	if decErr == nil {
		// Multistream gzip reads to EOF; this only catches what a
		// decoder might leave, so the whole range is accounted for.
		if _, err := io.Copy(io.Discard, lr); err != nil && cr.err == nil {
			cr.err = err
		}
	}
	// The source's own failures explain decoding errors, so come first.
	if cr.err != nil {
		return 0, fmt.Errorf("eStargz TOC: reading from source: %w", cr.err)
	}
	if cr.n < rangeLen && (cr.eof || decErr == nil) {
		return 0, fmt.Errorf("eStargz TOC: source stream ended after %d of %d bytes: %w", cr.n, rangeLen, io.ErrUnexpectedEOF)
	}
	return n, decErr
}

// inflateTOC gunzips the member, checks that it is a tar holding exactly one
// regular file named stargz.index.json within the limit, and copies that
// file to dst while hashing it.
func inflateTOC(r io.Reader, maxTOC uint64, want digest.Digest, dst io.Writer) (int64, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return 0, fmt.Errorf("not a gzip stream: %w", err)
	}
	// Close only reports the stream's sticky error, already handled.
	defer func() { _ = zr.Close() }()
	bound := int64(math.MaxInt64 - 1)
	if maxTOC < uint64(bound-tocTarSlack) {
		bound = int64(maxTOC) + tocTarSlack
	}
	lim := &io.LimitedReader{R: zr, N: bound + 1}
	tooBig := func() error {
		return fmt.Errorf("%w: the TOC member inflates to more than %d bytes", ErrTOCTooLarge, bound)
	}
	tr := tar.NewReader(lim)

	h, err := tr.Next()
	switch {
	case lim.N == 0:
		return 0, tooBig()
	case err == io.EOF:
		return 0, fmt.Errorf("%w: it holds no tar entry", ErrNotTOC)
	case err != nil:
		return 0, fmt.Errorf("reading the tar header: %w", err)
	}
	// Upstream does not check the name; a TOC tar entry that is not the TOC
	// is not an eStargz TOC, whatever it hashes to.
	if h.Typeflag != tar.TypeReg || h.Name != stargz.TOCTarName {
		return 0, fmt.Errorf("%w: its first tar entry is %q of type %q", ErrNotTOC, h.Name, h.Typeflag)
	}
	if uint64(h.Size) > maxTOC {
		return 0, fmt.Errorf("%w: the %s tar entry is %d bytes, over the limit %d", ErrTOCTooLarge, stargz.TOCTarName, h.Size, maxTOC)
	}

	hash := want.Algorithm().Hash()
	n, err := io.Copy(io.MultiWriter(spool.MarkWrites(dst), hash), tr)
	var we *spool.WriteError
	switch {
	case errors.As(err, &we):
		return 0, fmt.Errorf("writing the TOC spool: %w", we.Err)
	case lim.N == 0:
		return 0, tooBig()
	case err != nil:
		return 0, fmt.Errorf("reading %s: %w", stargz.TOCTarName, err)
	case n != h.Size:
		return 0, fmt.Errorf("reading %s: got %d of %d bytes: %w", stargz.TOCTarName, n, h.Size, io.ErrUnexpectedEOF)
	}
	if got := digest.NewDigest(want.Algorithm(), hash); got != want {
		return 0, &formats.DigestError{Format: formats.EStargz, What: "TOC", Expected: want.String(), Computed: got.String()}
	}

	// Nothing may follow the TOC: it would be unauthenticated, and reading
	// to the end verifies the gzip CRC.
	next, err := tr.Next()
	switch {
	case lim.N == 0:
		return 0, tooBig()
	case err == nil:
		return 0, fmt.Errorf("%w: tar entry %q follows %s", ErrTOCMemberTrailing, next.Name, stargz.TOCTarName)
	case err != io.EOF:
		return 0, fmt.Errorf("reading the tar stream after %s: %w", stargz.TOCTarName, err)
	}
	_, err = io.Copy(io.Discard, lim)
	switch {
	case lim.N == 0:
		return 0, tooBig()
	case err != nil:
		return 0, fmt.Errorf("decompressing the member after %s: %w", stargz.TOCTarName, err)
	}
	return n, nil
}
