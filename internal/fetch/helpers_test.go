package fetch_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/fetch"
	"github.com/chunkdiff/chunkdiff/internal/testutil"
	digest "github.com/opencontainers/go-digest"
)

// cleanName strips what writers put in front of TOC names.
func cleanName(n string) string {
	return strings.TrimPrefix(strings.TrimPrefix(n, "./"), "/")
}

// decodeEntries reads every TOC entry from the JSON in r.
func decodeEntries(t testing.TB, r io.Reader) []*toc.Entry {
	t.Helper()
	d := toc.NewDecoder(r)
	var out []*toc.Entry
	for {
		e, err := d.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("toc: %v", err)
		}
		out = append(out, e)
	}
}

// zstdFiles derives the files of a zstd:chunked layer from its TOC.
func zstdFiles(t testing.TB, l testutil.Layer) []fetch.File {
	t.Helper()
	raw, off := testutil.TOC(t, l)
	// The TOC data offset (past the skippable header) bounds the last file.
	return groupFiles(t, decodeEntries(t, bytes.NewReader(raw)), off, nil)
}

// estargzSkip is the eStargz reader's skip list (FORMATS.md "estargz-toc").
func estargzSkip(name string) bool {
	switch name {
	case ".prefetch.landmark", ".no.prefetch.landmark", "stargz.index.json":
		return true
	}
	return false
}

// estargzFiles derives the files of an eStargz layer from its TOC.
func estargzFiles(t testing.TB, l testutil.Layer) []fetch.File {
	t.Helper()
	footer := l.Blob[len(l.Blob)-51:]
	tocOff, err := strconv.ParseInt(string(footer[16:32]), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(l.Blob[tocOff : len(l.Blob)-51]))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	if _, err := tr.Next(); err != nil {
		t.Fatal(err)
	}
	return groupFiles(t, decodeEntries(t, tr), tocOff, estargzSkip)
}

// groupFiles applies the reader rules of FORMATS.md "chunk-ranges": group each reg entry
// with the chunk entries after it, derive each chunk's range from the next
// offsets (the last one ending at the group end, or at the next entry's
// offset, or at tocOff), and its size from chunkSize or the remainder.
func groupFiles(t testing.TB, entries []*toc.Entry, tocOff int64, skip func(string) bool) []fetch.File {
	t.Helper()
	type group struct {
		es  []*toc.Entry
		end int64
	}
	var groups []group
	for _, e := range entries {
		switch e.Type {
		case toc.TypeReg:
			if skip != nil && skip(cleanName(e.Name)) {
				groups = append(groups, group{}) // keeps offsets for ranges
				groups[len(groups)-1].es = []*toc.Entry{e}
				groups[len(groups)-1].end = -1 // marker: skipped
				continue
			}
			groups = append(groups, group{es: []*toc.Entry{e}})
		case toc.TypeChunk:
			if len(groups) == 0 {
				t.Fatalf("chunk entry %q without reg", e.Name)
			}
			g := &groups[len(groups)-1]
			g.es = append(g.es, e)
		}
	}
	next := tocOff
	files := make([]fetch.File, 0, len(groups))
	for gi := len(groups) - 1; gi >= 0; gi-- {
		g := groups[gi]
		end := g.es[len(g.es)-1].EndOffset
		if end == 0 {
			end = next
		}
		if g.es[0].Offset != 0 {
			next = g.es[0].Offset
		}
		if g.end == -1 {
			continue
		}
		reg := g.es[0]
		f := fetch.File{Name: cleanName(reg.Name), Size: reg.Size, Digest: reg.Digest}
		if f.Digest == "" && f.Size == 0 {
			f.Digest = toc.EmptyDigest
		}
		if reg.Size > 0 {
			var done int64
			for j, e := range g.es {
				c := fetch.Chunk{Offset: e.Offset, Digest: e.ChunkDigest, Zeros: e.ChunkType == toc.ChunkTypeZeros}
				if j+1 < len(g.es) {
					c.Length = g.es[j+1].Offset - e.Offset
				} else {
					c.Length = end - e.Offset
				}
				c.Size = e.ChunkSize
				if c.Size <= 0 {
					c.Size = reg.Size - done
				}
				done += c.Size
				f.Chunks = append(f.Chunks, c)
			}
		}
		files = append(files, f)
	}
	// Built backwards.
	for i, j := 0, len(files)-1; i < j; i, j = i+1, j-1 {
		files[i], files[j] = files[j], files[i]
	}
	return files
}

// tarContents maps regular file names to their contents.
func tarContents(entries []testutil.Entry) map[string][]byte {
	m := map[string][]byte{}
	for _, e := range entries {
		if e.Header.Typeflag == tar.TypeReg {
			m[cleanName(e.Header.Name)] = e.Data
		}
	}
	return m
}

// dirSink writes file i to dir/i and records what happened to each file.
type dirSink struct {
	t   testing.TB
	dir string

	mu       sync.Mutex
	inCall   bool
	opened   map[int]bool
	closed   map[int]error // nil: verified
	openErr  map[int]error // injected Open failures
	closeErr map[int]error // injected Close failures
}

func newDirSink(t testing.TB) *dirSink {
	return &dirSink{t: t, dir: t.TempDir(), opened: map[int]bool{}, closed: map[int]error{},
		openErr: map[int]error{}, closeErr: map[int]error{}}
}

func (s *dirSink) path(i int) string { return filepath.Join(s.dir, strconv.Itoa(i)) }

func (s *dirSink) enter() {
	s.mu.Lock()
	if s.inCall {
		s.t.Errorf("Sink called concurrently")
	}
	s.inCall = true
	s.mu.Unlock()
}

func (s *dirSink) leave() {
	s.mu.Lock()
	s.inCall = false
	s.mu.Unlock()
}

func (s *dirSink) Open(i int) (*os.File, error) {
	s.enter()
	defer s.leave()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened[i] {
		s.t.Errorf("file %d opened twice", i)
	}
	if err := s.openErr[i]; err != nil {
		return nil, err
	}
	s.opened[i] = true
	return os.OpenFile(s.path(i), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
}

func (s *dirSink) Close(i int, f *os.File, err error) error {
	s.enter()
	defer s.leave()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opened[i] {
		s.t.Errorf("file %d closed but never opened", i)
	}
	if _, dup := s.closed[i]; dup {
		s.t.Errorf("file %d closed twice", i)
	}
	if err == nil {
		err = s.closeErr[i]
	}
	s.closed[i] = err
	if cerr := f.Close(); cerr != nil {
		return cerr
	}
	return s.closeErr[i]
}

// checkAllClosed: every opened file was closed exactly once.
func (s *dirSink) checkAllClosed(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.opened {
		if _, ok := s.closed[i]; !ok {
			t.Errorf("file %d opened but never closed", i)
		}
	}
}

// verified returns the indexes closed as complete.
func (s *dirSink) verified() map[int]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[int]bool{}
	for i, err := range s.closed {
		if err == nil {
			m[i] = true
		}
	}
	return m
}

// checkContents compares every file with want (by name) and checks all of
// them were verified.
func (s *dirSink) checkContents(t testing.TB, files []fetch.File, want map[string][]byte) {
	t.Helper()
	s.checkAllClosed(t)
	ok := s.verified()
	for i, f := range files {
		if !ok[i] {
			t.Errorf("%s: not verified (close err %v)", f.Name, s.closed[i])
			continue
		}
		got, err := os.ReadFile(s.path(i))
		if err != nil {
			t.Errorf("%s: %v", f.Name, err)
			continue
		}
		w, known := want[f.Name]
		if !known {
			t.Errorf("%s: not in the tar", f.Name)
			continue
		}
		if !bytes.Equal(got, w) {
			t.Errorf("%s: contents differ (got %d bytes, want %d)", f.Name, len(got), len(w))
		}
	}
}

// leakCheck fails the test if goroutines started during it are still
// running once it ends (after letting them settle).
func leakCheck(t testing.TB) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// richZstd is the RichTree zstd:chunked layer, its files and contents.
func richZstd(t testing.TB) (testutil.Layer, []fetch.File, map[string][]byte) {
	t.Helper()
	entries := testutil.RichTree(1)
	l := testutil.ZstdChunked(t, testutil.TarBytes(t, entries))
	return l, zstdFiles(t, l), tarContents(entries)
}

// rawLayout builds an uncompressed blob for the Raw codec: n files of 1–4
// chunks (some zero runs, some empty files), random junk between chunks,
// and chunk lengths that run into the junk or the next chunk like TOC
// ranges with trailing frames do.
func rawLayout(seed int64, n int) (blob []byte, files []fetch.File, want map[string][]byte) {
	rng := rand.New(rand.NewSource(seed))
	want = map[string][]byte{}
	var buf bytes.Buffer
	for i := range n {
		f := fetch.File{Name: fmt.Sprintf("dir/file-%03d", i)}
		var content []byte
		nchunks := rng.Intn(5) // 0: empty file
		for j := range nchunks {
			size := int64(1 + rng.Intn(20000))
			c := fetch.Chunk{Offset: int64(buf.Len()), Size: size}
			data := make([]byte, size)
			if j > 0 && rng.Intn(4) == 0 {
				c.Zeros = true
				c.Length = int64(rng.Intn(30)) // a zstd zero frame is tiny
			} else {
				rng.Read(data)
				buf.Write(data)
				c.Length = size
			}
			junk := rng.Intn(3000)
			if rng.Intn(3) == 0 {
				junk = 0
			}
			for range junk {
				buf.WriteByte(byte(rng.Intn(256)))
			}
			// Ranges may include what follows (trailing frames).
			if !c.Zeros && rng.Intn(2) == 0 {
				c.Length += int64(rng.Intn(junk + 100))
			}
			if nchunks > 1 {
				c.Digest = digest.FromBytes(data)
			}
			content = append(content, data...)
			f.Chunks = append(f.Chunks, c)
			f.Size += size
		}
		f.Digest = digest.FromBytes(content)
		want[f.Name] = content
		files = append(files, f)
	}
	// The last ranges may point past the data: give them something to read.
	buf.Write(make([]byte, 30000))
	return buf.Bytes(), files, want
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }
