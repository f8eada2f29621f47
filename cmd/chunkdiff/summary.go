package main

import (
	"slices"

	"fmt"
	"github.com/chunkdiff/chunkdiff/differ/states"
	"io"
	"strings"
)

// printSummary says what a successful pull did. The byte counts add up:
// everything read from the blob is either metadata (the TOC and tar-split,
// read while loading) or file contents; the rest of the blob was not read.
func printSummary(out io.Writer, r pullResult) error {
	var w strings.Builder
	d := r.dump
	converted := slices.ContainsFunc(d.History, func(t states.Transition) bool { return t.Event == states.Convert })
	fmt.Fprintf(&w, "%s: %s", r.blob, d.State)
	switch {
	case converted && d.Reason != nil:
		fmt.Fprintf(&w, " after downloading it whole and converting it (convert_images), because %s", d.Reason)
	case d.Reason != nil:
		fmt.Fprintf(&w, " (%s)", d.Reason)
	}
	w.WriteString("\n")
	if d.Metadata != nil {
		fmt.Fprintf(&w, "  content: %s, %s, %s uncompressed\n",
			plural(d.Metadata.Entries, "entry", "entries"), plural(d.Metadata.RegularFiles, "regular file", "regular files"), size(d.Metadata.UncompressedSize))
	}
	switch a := d.Apply; {
	case a != nil && converted:
		fmt.Fprintf(&w, "  fetched: the whole blob, %s in %s, then converted locally\n", size(r.source.bytes),
			plural(int(r.source.requests), "range request", "range requests"))
		fmt.Fprintf(&w, "  written: %s in %.2fs\n", size(a.BytesWritten), a.Seconds)
	case a != nil:
		var blobSize int64
		if d.Context != nil {
			blobSize = d.Context.BlobSize
		}
		total := r.source.bytes
		meta := max(total-a.BytesFetched, 0)
		fmt.Fprintf(&w, "  fetched: %s of the %s blob (%s) in %s\n",
			size(total), size(blobSize), percent(total, blobSize), plural(int(r.source.requests), "range request", "range requests"))
		fmt.Fprintf(&w, "           %s metadata (TOC and tar-split), %s file contents (%s)\n",
			size(meta), size(a.BytesFetched), plural(a.FilesFetched, "file", "files"))
		why := "frame headers and padding the pull does not need"
		if a.Reuse.FilesLinked+a.Reuse.FilesCopied+a.Reuse.ChunksLocal > 0 {
			why = "contents found locally, and framing the pull does not need"
		}
		fmt.Fprintf(&w, "  not fetched: %s (%s of the blob): %s\n", size(max(blobSize-total, 0)), percent(max(blobSize-total, 0), blobSize), why)
		var reused []string
		if n := a.Reuse.FilesLinked; n > 0 {
			reused = append(reused, plural(n, "file", "files")+" hard-linked")
		}
		if n := a.Reuse.FilesCopied; n > 0 {
			reused = append(reused, plural(n, "file", "files")+" copied")
		}
		if n := a.Reuse.ChunksLocal; n > 0 {
			reused = append(reused, fmt.Sprintf("%s copied (%d B, %s)", plural(n, "chunk", "chunks"), a.LocalChunkBytes, human(a.LocalChunkBytes)))
		}
		if len(reused) > 0 {
			fmt.Fprintf(&w, "  reused:  %s from layers already in the store\n", strings.Join(reused, ", "))
		}
		fmt.Fprintf(&w, "  written: %s in %.2fs", size(a.BytesWritten), a.Seconds)
		if a.HoleBytes > 0 {
			fmt.Fprintf(&w, " (plus %s of zeros left as sparse holes)", size(a.HoleBytes))
		}
		w.WriteString("\n")
	}
	if a := d.Apply; a != nil && a.UncompressedDigest != "" {
		fmt.Fprintf(&w, "  diffid:  %s\n", a.UncompressedDigest)
	}
	if r.layerID != "" {
		fmt.Fprintf(&w, "  id:      %s\n", r.layerID)
	}
	_, err := io.WriteString(out, w.String())
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// size prints bytes exactly, with a readable unit beside large values, so
// that sums can be checked.
func size(n int64) string {
	if n < 1<<10 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%d B (%s)", n, human(n))
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func percent(n, total int64) string {
	if total <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(total))
}
