package zstdchunked

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/archive/tar"
)

// tocEntry is one TOC entry as written: the field names, order and
// omitempty rules are upstream's (FORMATS.md "toc-schema"), so encoding/json produces
// the same bytes for the same values.
type tocEntry struct {
	Type        string            `json:"type"`
	Name        string            `json:"name"`
	LinkName    string            `json:"linkName,omitempty"`
	Mode        int64             `json:"mode,omitempty"`
	Size        int64             `json:"size,omitempty"`
	UID         int               `json:"uid,omitempty"`
	GID         int               `json:"gid,omitempty"`
	ModTime     *time.Time        `json:"modtime,omitempty"`
	AccessTime  *time.Time        `json:"accesstime,omitempty"`
	ChangeTime  *time.Time        `json:"changetime,omitempty"`
	DevMajor    int64             `json:"devMajor,omitempty"`
	DevMinor    int64             `json:"devMinor,omitempty"`
	Xattrs      map[string]string `json:"xattrs,omitempty"`
	Digest      string            `json:"digest,omitempty"`
	Offset      int64             `json:"offset,omitempty"`
	EndOffset   int64             `json:"endOffset,omitempty"`
	ChunkSize   int64             `json:"chunkSize,omitempty"`
	ChunkOffset int64             `json:"chunkOffset,omitempty"`
	ChunkDigest string            `json:"chunkDigest,omitempty"`
	ChunkType   string            `json:"chunkType,omitempty"`
}

// newTOCEntry fills the header fields; payload fields are the caller's.
func newTOCEntry(hdr *tar.Header, typ string) tocEntry {
	e := tocEntry{
		Type:       typ,
		Name:       hdr.Name,
		LinkName:   hdr.Linkname,
		Mode:       hdr.Mode,
		Size:       hdr.Size,
		UID:        hdr.Uid,
		GID:        hdr.Gid,
		ModTime:    nonZeroTime(hdr.ModTime),
		AccessTime: nonZeroTime(hdr.AccessTime),
		ChangeTime: nonZeroTime(hdr.ChangeTime),
		DevMajor:   hdr.Devmajor,
		DevMinor:   hdr.Devminor,
	}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, paxXattrPrefix); ok {
			if e.Xattrs == nil {
				e.Xattrs = map[string]string{}
			}
			e.Xattrs[name] = base64.StdEncoding.EncodeToString([]byte(v))
		}
	}
	return e
}

// nonZeroTime: a zero tar time is omitted; the epoch is not.
func nonZeroTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// tocWriter streams the TOC JSON object entry by entry, so entries are
// never all held as Go values: {"version":1,"entries":[…],"tarSplitDigest":…}.
// tarSplitDigest comes last in upstream's field order, which is what makes
// streaming possible.
type tocWriter struct {
	w io.Writer
	n int
}

func (t *tocWriter) add(e *tocEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	sep := ","
	if t.n == 0 {
		sep = `{"version":1,"entries":[`
	}
	t.n++
	if _, err := io.WriteString(t.w, sep); err != nil {
		return err
	}
	_, err = t.w.Write(b)
	return err
}

// finish closes the object. Without entries upstream marshals a nil slice,
// so "entries" is null, and so is ours.
func (t *tocWriter) finish(tarSplit digest.Digest) error {
	end := "]"
	if t.n == 0 {
		end = `{"version":1,"entries":null`
	}
	if tarSplit != "" {
		b, err := json.Marshal(tarSplit)
		if err != nil {
			return err
		}
		end += `,"tarSplitDigest":` + string(b)
	}
	_, err := io.WriteString(t.w, end+"}")
	return err
}
