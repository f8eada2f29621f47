package differ

import (
	"fmt"
	"io"
	"strings"
	"time"

	dcontext "github.com/chunkdiff/chunkdiff/differ/context"
	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/opencontainers/go-digest"
)

// MetadataSummary is what loading found, kept after the metadata is released.
type MetadataSummary struct {
	TOCDigest              digest.Digest `json:"toc_digest"`
	TOCOffset              uint64        `json:"toc_offset"`
	TOCCompressedSize      uint64        `json:"toc_compressed_size"`
	TOCUncompressedSize    uint64        `json:"toc_uncompressed_size"`
	TarSplitDigest         digest.Digest `json:"tar_split_digest,omitempty"`
	TarSplitCompressedSize uint64        `json:"tar_split_compressed_size"`
	TarSplitSize           uint64        `json:"tar_split_size"`
	UncompressedSize       int64         `json:"uncompressed_size"` // -1: unknown
	Entries                int           `json:"entries"`
	RegularFiles           int           `json:"regular_files"`
	Chunks                 int           `json:"chunk_entries"`
	Dirs                   int           `json:"dirs"`
	Symlinks               int           `json:"symlinks"`
	Hardlinks              int           `json:"hardlinks"`
	Other                  int           `json:"other"`
}

// sizes is what the load transition records.
func (s MetadataSummary) sizes() map[string]int64 {
	return map[string]int64{
		"toc_compressed_bytes":       int64(s.TOCCompressedSize),
		"toc_uncompressed_bytes":     int64(s.TOCUncompressedSize),
		"tar_split_compressed_bytes": int64(s.TarSplitCompressedSize),
		"tar_split_bytes":            int64(s.TarSplitSize),
		"entries":                    int64(s.Entries),
	}
}

// Dump is the diagnostic state dump: JSON-serialisable, a copy.
type Dump struct {
	State    states.State        `json:"state"`
	Reason   *states.Reason      `json:"reason,omitempty"` // why it is in fallback, failed or convert-pending
	Error    string              `json:"error,omitempty"`
	Context  *dcontext.Summary   `json:"context,omitempty"`
	Metadata *MetadataSummary    `json:"metadata,omitempty"`
	Apply    *ApplySummary       `json:"apply,omitempty"`
	Index    *IndexSummary       `json:"index,omitempty"`
	History  []states.Transition `json:"history"`
}

// Dump returns the current diagnostic state: the context's summary, what
// the current phase holds, and the machine's history.
func (d *Differ) Dump() Dump {
	d.mu.Lock()
	p := d.phase
	history := d.machine.History()
	d.mu.Unlock()
	out := Dump{State: p.state(), History: history}
	if d.ctx != nil {
		s := d.ctx.Summary()
		out.Context = &s
	}
	f := p.findings()
	if f.meta != nil {
		m := *f.meta
		out.Metadata = &m
	}
	if f.apply != nil {
		a := *f.apply
		out.Apply = &a
	}
	if f.index != nil {
		ix := *f.index
		out.Index = &ix
	}
	if f.reason != nil {
		r := *f.reason
		out.Reason = &r
	}
	if f.err != nil {
		out.Error = f.err.Error()
	}
	return out
}

// WriteText renders the dump for people.
func (d Dump) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "state:    %s\n", d.State)
	if d.Reason != nil {
		fmt.Fprintf(&b, "reason:   %s\n", d.Reason)
	}
	if d.Error != "" {
		fmt.Fprintf(&b, "error:    %s\n", d.Error)
	}
	if c := d.Context; c != nil {
		fmt.Fprintf(&b, "blob:     %s (%d bytes)\n", c.BlobDigest, c.BlobSize)
		fmt.Fprintf(&b, "format:   %s\n", c.Format)
		if c.TOCDigest != "" {
			fmt.Fprintf(&b, "toc:      %s\n", c.TOCDigest)
		}
		fmt.Fprintf(&b, "limits:   toc %d B, tar-split %d B, %d ranges/request, metadata policy %s\n",
			c.Limits.MaxTOCSize, c.Limits.MaxTarSplitSize, c.Limits.MaxRangesPerRequest, c.Limits.MetadataPolicy)
	}
	if m := d.Metadata; m != nil {
		fmt.Fprintf(&b, "entries:  %d (%d files, %d chunk entries, %d dirs, %d symlinks, %d hardlinks, %d other)\n",
			m.Entries, m.RegularFiles, m.Chunks, m.Dirs, m.Symlinks, m.Hardlinks, m.Other)
		fmt.Fprintf(&b, "toc:      %d B compressed, %d B uncompressed\n", m.TOCCompressedSize, m.TOCUncompressedSize)
		fmt.Fprintf(&b, "tarsplit: %d B compressed, %d B uncompressed\n", m.TarSplitCompressedSize, m.TarSplitSize)
		fmt.Fprintf(&b, "layer:    %d B uncompressed\n", m.UncompressedSize)
	}
	if a := d.Apply; a != nil {
		fmt.Fprintf(&b, "fetched:  %d B of file contents (%d files) in %s (%s), after %d B of metadata (TOC and tar-split); %d B of the blob not fetched\n",
			a.BytesFetched, a.FilesFetched, plural(a.Requests, "range request"), plural(a.Ranges, "range"), a.MetadataBytes, a.Skipped)
		fmt.Fprintf(&b, "written:  %d B (+%d B of zeros left as sparse holes) in %.2fs\n", a.BytesWritten, a.HoleBytes, a.Seconds)
		fmt.Fprintf(&b, "reused:   %d files linked, %d copied (%d reflinked), %d chunks (%d B) from the store; contents found nowhere in the store: %d B compressed, the least any partial pull must fetch\n",
			a.Reuse.FilesLinked, a.Reuse.FilesCopied, a.Reuse.FilesReflinked, a.Reuse.ChunksLocal, a.LocalChunkBytes, a.Reuse.LowerBound)
		if a.UncompressedDigest != "" {
			fmt.Fprintf(&b, "diffid:   %s\n", a.UncompressedDigest)
		}
	}
	b.WriteString("history:\n")
	for _, t := range d.History {
		fmt.Fprintf(&b, "  %s  %-15s --%s--> %s", t.At.Format(time.RFC3339Nano), t.From, t.Event, t.To)
		if s := t.Reason.String(); s != "" {
			fmt.Fprintf(&b, "  (%s)", s)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// plural says "1 range" or "2 ranges".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
