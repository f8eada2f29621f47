package differ

import (
	"context"
	"fmt"
	"os"
	"path"
	"sync"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/apply"
	"github.com/chunkdiff/chunkdiff/internal/fetch"
	"github.com/chunkdiff/chunkdiff/internal/layout"
	"github.com/opencontainers/go-digest"
	"go.podman.io/storage/pkg/chunked"
)

// materializer writes one layer's entries under a root.
type materializer struct {
	root   *apply.Root
	plan   *plan
	reuse  *reuse
	flat   bool
	verity *verityRecorder
	// The entries as given to the root, by fetch index: Dir format reads
	// them back from the layout (createdAt: record offsets), Flat format
	// makes its own (flatCreated).
	createdAt   []int64
	flatCreated []*toc.Entry
	// opened holds the entries of the files open between Sink.Open and
	// Sink.Close (a few: one per fetch worker).
	mu     sync.Mutex
	opened map[int]*toc.Entry
	// progress, when set, learns of every completed file (for the DiffID
	// computed alongside the fetch).
	progress *progress
	// files is what fetching produces, and flatNames (Flat format) maps
	// cleaned entry names to flat paths; both are set before started runs.
	files     fetch.Files
	flatNames map[string]string
}

// tree materialises every entry in TOC order (Dir format): directories,
// empty files, symlinks, devices and whiteouts at once, regular files with
// content through the fetcher, hard links last (their targets must exist),
// directory times at the very end (creating children changes them).
//
// started runs once every file to fetch is known, before fetching begins.
func (m *materializer) tree(ctx context.Context, src chunked.ImageSourceSeekable, opts fetch.Options, started func()) (fetch.Stats, error) {
	var links []int64         // record offsets of the hard links
	names := apply.NewNames() // one path per entry, bound in tar order
	m.createdAt = nil         // fetch files not reused, in order
	if len(m.reuse.whole) == 0 {
		m.createdAt = m.plan.fetchAt // the same list
	}
	k := -1 // fetch index of the current item
	s := m.plan.layout.Scan()
	for s.Next() {
		it := s.Item()
		e := &it.Entry
		isFetched := fetched(it)
		var whole *wholeFile
		if isFetched {
			k++
			whole = m.reuse.whole[k]
			if whole == nil && len(m.reuse.whole) > 0 {
				m.createdAt = append(m.createdAt, s.Offset())
			}
		}
		if err := names.Add(e); err != nil {
			return fetch.Stats{}, err
		}
		if handled, err := m.root.Whiteout(e); err != nil || handled {
			if err != nil {
				return fetch.Stats{}, err
			}
			continue
		}
		var err error
		switch e.Type {
		case toc.TypeDir:
			err = m.root.Dir(e)
		case toc.TypeReg:
			if !isFetched {
				err = m.root.EmptyFile(e)
			} else if whole != nil {
				err = m.reuseFile(e, whole)
			}
		case toc.TypeSymlink:
			err = m.root.Symlink(e)
		case toc.TypeChar, toc.TypeBlock, toc.TypeFifo:
			err = m.root.Device(e)
		case toc.TypeHardlink:
			links = append(links, s.Offset())
		default:
			err = fmt.Errorf("entry %q has unknown type %q", e.Name, e.Type)
		}
		if err != nil {
			return fetch.Stats{}, err
		}
	}
	if err := s.Err(); err != nil {
		return fetch.Stats{}, err
	}
	m.files = files{p: m.plan, at: m.createdAt}
	started()
	stats, err := fetch.FetchFiles(ctx, src, m.files, m, opts)
	if err != nil {
		return stats, err
	}
	for _, at := range links {
		it, err := m.plan.layout.ReadAt(at)
		if err != nil {
			return stats, err
		}
		if err := m.root.Hardlink(&it.Entry); err != nil {
			return stats, err
		}
	}
	return stats, m.root.FinishDirs()
}

// reuseFile materialises e from a verified copy already in the store: a
// hard link when allowed and the attributes match, else a reflink or copy.
func (m *materializer) reuseFile(e *toc.Entry, w *wholeFile) error {
	if w.link {
		if err := m.root.LinkFile(e, w.src); err != nil {
			return err
		}
		m.reuse.FilesLinked++
		m.reuse.BytesLinked += e.Size
		return nil
	}
	f, err := m.root.CreateFile(e)
	if err != nil {
		return err
	}
	method, err := apply.CopyContent(f, w.src)
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("reusing %q from the store: %w", e.Name, err)
	}
	if err := m.root.FinishFile(e, f); err != nil {
		return err
	}
	m.reuse.FilesCopied++
	m.reuse.BytesCopied += e.Size
	if method == apply.Reflink {
		m.reuse.FilesReflinked++
	}
	if m.verity != nil {
		return m.verity.record(m.root, e.Name)
	}
	return nil
}

// flatTree materialises the Flat format used by composefs: only regular
// files, one per distinct digest, at "xx/rest-of-hex", with no attributes.
func (m *materializer) flatTree(ctx context.Context, src chunked.ImageSourceSeekable, opts fetch.Options, started func()) (fetch.Stats, map[string]string, error) {
	names := map[string]string{} // cleaned entry name → flat path
	seen := map[digest.Digest]string{}
	var fetchAt []int64
	var created []*toc.Entry
	bound := apply.NewNames() // one path per entry, bound in tar order
	k := -1                   // fetch index of the current item
	s := m.plan.layout.Scan()
	for s.Next() {
		it := s.Item()
		isFetched := fetched(it)
		if isFetched {
			k++
		}
		if err := bound.Add(&it.Entry); err != nil {
			return fetch.Stats{}, nil, err
		}
		if it.Entry.Type != toc.TypeReg {
			continue
		}
		dg := it.Entry.Digest
		if dg == "" {
			dg = toc.EmptyDigest
		}
		flat, err := flatPath(dg)
		if err != nil {
			return fetch.Stats{}, nil, fmt.Errorf("entry %q: %w", it.Entry.Name, err)
		}
		names[path.Clean("/"+it.Entry.Name)] = flat
		if _, dup := seen[dg]; dup {
			continue
		}
		seen[dg] = flat
		if err := m.root.Dir(&toc.Entry{Type: toc.TypeDir, Name: path.Dir(flat), Mode: 0o755}); err != nil {
			return fetch.Stats{}, nil, err
		}
		e := &toc.Entry{Type: toc.TypeReg, Name: flat, Mode: 0o644, Size: it.Entry.Size, Digest: dg}
		if !isFetched {
			if err := m.root.EmptyFile(e); err != nil {
				return fetch.Stats{}, nil, err
			}
			continue
		}
		fetchAt = append(fetchAt, m.plan.fetchAt[k])
		created = append(created, e)
	}
	if err := s.Err(); err != nil {
		return fetch.Stats{}, nil, err
	}
	m.flatCreated = created
	m.files = files{p: m.plan, at: fetchAt}
	m.flatNames = names
	started()
	stats, err := fetch.FetchFiles(ctx, src, m.files, m, opts)
	return stats, names, err
}

func fetchChunk(c *layout.Chunk) fetch.Chunk {
	return fetch.Chunk{Offset: c.Offset, Length: c.End - c.Offset, Size: c.Size, Digest: c.Digest, Zeros: c.Zeros}
}

// flatPath is "xx/rest" for a sha256 digest; other algorithms are refused as
// upstream refuses them (composefs addresses objects by sha256).
func flatPath(d digest.Digest) (string, error) {
	if d.Algorithm() != digest.SHA256 || d.Validate() != nil {
		return "", fmt.Errorf("flat layout needs a valid sha256 digest, got %q", d)
	}
	hex := d.Encoded()
	return hex[:2] + "/" + hex[2:], nil
}

// created is the entry of fetch file i as given to the root.
func (m *materializer) created(i int) (*toc.Entry, error) {
	if m.flat {
		return m.flatCreated[i], nil
	}
	m.mu.Lock()
	e := m.opened[i]
	m.mu.Unlock()
	if e != nil {
		return e, nil
	}
	it, err := m.plan.layout.ReadAt(m.createdAt[i])
	if err != nil {
		return nil, err
	}
	return &it.Entry, nil
}

// Open implements fetch.Sink.
func (m *materializer) Open(i int) (*os.File, error) {
	e, err := m.created(i)
	if err != nil {
		return nil, err
	}
	f, err := m.root.CreateFile(e)
	if err == nil && !m.flat {
		m.mu.Lock()
		if m.opened == nil {
			m.opened = map[int]*toc.Entry{}
		}
		m.opened[i] = e
		m.mu.Unlock()
	}
	return f, err
}

// Close implements fetch.Sink: a verified file gets its attributes (and
// fs-verity if asked), anything else is just closed.
func (m *materializer) Close(i int, f *os.File, ferr error) error {
	e, err := m.created(i)
	m.mu.Lock()
	delete(m.opened, i)
	m.mu.Unlock()
	if ferr != nil || err != nil {
		_ = f.Close()
		return err
	}
	if m.flat {
		err = f.Close()
	} else {
		err = m.root.FinishFile(e, f)
	}
	if err == nil && m.verity != nil {
		// fs-verity needs the file read-only with no writer left open.
		err = m.verity.record(m.root, e.Name)
	}
	if err == nil && m.progress != nil {
		m.progress.complete(i)
	}
	return err
}

// newProgress prepares completion tracking for the files about to be
// fetched. In the Dir format it reads their names back from the layout as
// the reassembly reaches them.
func (m *materializer) newProgress() *progress {
	if m.flat {
		return newProgress(len(m.flatCreated), nil, m.flatNames)
	}
	return newProgress(len(m.createdAt), func(i int) (string, error) {
		it, err := m.plan.layout.ReadAt(m.createdAt[i])
		return it.Entry.Name, err
	}, nil)
}
