package zstdchunked

import (
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/vbatts/tar-split/archive/tar"
)

// tarTypes maps tar typeflags to TOC entry types, as the writer does.
var tarTypes = map[byte]string{
	tar.TypeReg:     toc.TypeReg,
	tar.TypeLink:    toc.TypeHardlink,
	tar.TypeSymlink: toc.TypeSymlink,
	tar.TypeChar:    toc.TypeChar,
	tar.TypeBlock:   toc.TypeBlock,
	tar.TypeDir:     toc.TypeDir,
	tar.TypeFifo:    toc.TypeFifo,
}

const paxXattrPrefix = "SCHILY.xattr."

// consistency checks that the TOC and the tar-split describe the same
// entries with the same attributes (BEHAVIOUR.md "toc-tarsplit-consistency"),
// fed the TOC's non-chunk entries during the one decoding pass; the tar
// size is left in ts.size.
//
// The two are compared in lockstep: every real writer emits both in tar
// order, and lockstep keeps memory independent of the entry count (upstream
// builds a map of all entries). A TOC whose entries are consistent but
// reordered is therefore rejected, with an error saying so. The first
// problem is kept for end, which the pass calls once the entries are
// validated: telling a reordered entry from a missing one then takes a
// second look at the TOC (failing loads only).
type consistency struct {
	ts  headerSource
	pos int // non-chunk entries compared so far

	err error // the first mismatch but a name's
	// The first name mismatch: the tar-split's header at pos, and the
	// TOC's name there.
	mismatch *tar.Header
	tocName  string
}

// failed reports a problem waiting for end: the load will fail.
func (c *consistency) failed() bool { return c.err != nil || c.mismatch != nil }

// entry compares the TOC's next non-chunk entry with the tar-split's next
// header; after a problem nothing lines up any more.
func (c *consistency) entry(e *toc.Entry) {
	if c.failed() {
		return
	}
	hdr, err := c.ts.next()
	switch {
	case err == io.EOF:
		c.err = &InconsistentError{Name: e.Name, Field: "missing from tar-split", TOC: "TOC has an entry the tar-split lacks"}
	case err != nil:
		c.err = fmt.Errorf("zstd:chunked tar-split: %w", err)
	case hdr.Name != e.Name:
		c.mismatch, c.tocName = hdr, e.Name
	default:
		c.err = compareEntry(e, hdr)
		c.pos++
	}
}

// end finishes the check once the TOC is exhausted; open reads the TOC
// again to explain a name mismatch.
func (c *consistency) end(open func() io.Reader) error {
	if c.err != nil {
		return c.err
	}
	if hdr := c.mismatch; hdr != nil {
		inTOC, err := hasName(open, hdr.Name)
		if err != nil {
			return err
		}
		if inTOC {
			return &InconsistentError{Name: hdr.Name, Field: "order", TOC: fmt.Sprintf(
				"entry %d is %q in the TOC but %q in the tar-split; both must list entries in the same order", c.pos, c.tocName, hdr.Name)}
		}
		return &InconsistentError{Name: hdr.Name, Field: "name", TOC: fmt.Sprintf("%q", c.tocName), Tar: fmt.Sprintf("%q (at position %d; not in the TOC)", hdr.Name, c.pos)}
	}
	return rest(c.ts)
}

// hasName reports whether a non-chunk entry of the TOC is named name.
func hasName(open func() io.Reader, name string) (bool, error) {
	d := toc.NewDecoder(open())
	for {
		e, err := d.Next()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("zstd:chunked TOC: second decode: %w", err)
		}
		if e.Type != toc.TypeChunk && e.Name == name {
			return true, nil
		}
	}
}

// compareEntry compares what the writer would have put in the TOC for hdr
// with e; content locators (digest, offsets, chunks) are not compared.
func compareEntry(e *toc.Entry, hdr *tar.Header) error {
	mismatch := func(field string, a, b any) error {
		return &InconsistentError{Name: e.Name, Field: field, TOC: fmt.Sprint(a), Tar: fmt.Sprint(b)}
	}
	typ, ok := tarTypes[hdr.Typeflag]
	if !ok {
		return mismatch("type", e.Type, fmt.Sprintf("unsupported typeflag %q", hdr.Typeflag))
	}
	switch {
	case e.Type != typ:
		return mismatch("type", e.Type, typ)
	case e.LinkName != hdr.Linkname:
		return mismatch("linkName", fmt.Sprintf("%q", e.LinkName), fmt.Sprintf("%q", hdr.Linkname))
	case e.Mode != hdr.Mode:
		return mismatch("mode", fmt.Sprintf("%#o", e.Mode), fmt.Sprintf("%#o", hdr.Mode))
	case e.Size != hdr.Size:
		return mismatch("size", e.Size, hdr.Size)
	case e.UID != hdr.Uid:
		return mismatch("uid", e.UID, hdr.Uid)
	case e.GID != hdr.Gid:
		return mismatch("gid", e.GID, hdr.Gid)
	case e.DevMajor != hdr.Devmajor:
		return mismatch("devMajor", e.DevMajor, hdr.Devmajor)
	case e.DevMinor != hdr.Devminor:
		return mismatch("devMinor", e.DevMinor, hdr.Devminor)
	}
	for _, t := range []struct {
		field string
		a, b  time.Time
	}{{"modtime", e.ModTime, hdr.ModTime}, {"accesstime", e.AccessTime, hdr.AccessTime}, {"changetime", e.ChangeTime, hdr.ChangeTime}} {
		if !timesMatch(t.a, t.b) {
			return mismatch(t.field, fmtTime(t.a), fmtTime(t.b))
		}
	}
	var xattrs map[string]string
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, paxXattrPrefix); ok {
			if xattrs == nil {
				xattrs = map[string]string{}
			}
			xattrs[name] = base64.StdEncoding.EncodeToString([]byte(v))
		}
	}
	// maps.Equal treats nil and empty alike, as it should: the writer
	// omits an empty map.
	if !maps.Equal(e.Xattrs, xattrs) {
		return mismatch("xattrs", fmt.Sprintf("%q", e.Xattrs), fmt.Sprintf("%q", xattrs))
	}
	return nil
}

// timesMatch treats zero and the Unix epoch as absent: archive/tar writes a
// zero time as epoch 0 and reads that back as 1970 (upstream does the same).
func timesMatch(a, b time.Time) bool {
	absent := func(t time.Time) bool { return t.IsZero() || t.Equal(time.Unix(0, 0)) }
	if absent(a) || absent(b) {
		return absent(a) && absent(b)
	}
	return a.Equal(b)
}

func fmtTime(t time.Time) string {
	if t.IsZero() || t.Equal(time.Unix(0, 0)) {
		return "absent"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
