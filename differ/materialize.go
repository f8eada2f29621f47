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
	// createdK[i] is the plan's fetch index of created file i (Dir format
	// with reuse; nil: the same index), as the DiffID's progress counts.
	createdK []int
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
// content copied from the store (verified on the way, copyreuse.go) or
// fetched, the two at the same time, hard links last (their targets must
// exist), directory times at the very end (creating children changes them).
//
// started runs once every file to fetch is known, before fetching begins.
func (m *materializer) tree(ctx context.Context, src chunked.ImageSourceSeekable, opts fetch.Options, started func()) (fetch.Stats, error) {
	var links []int64                         // record offsets of the hard links
	names := apply.NewNames(m.root.TempDir()) // one path per entry, bound in tar order
	defer func() { _ = names.Close() }()      // a temp file at most
	reusing := len(m.reuse.whole) > 0
	m.createdAt, m.createdK = nil, nil // fetch files not reused, in order
	if !reusing {
		m.createdAt = m.plan.fetchAt // the same list
	}
	var copies []reuseJob // files to copy from the store, in order
	var untouched []int   // fetch files a whiteout took: neither copied nor fetched
	k := -1               // fetch index of the current item
	s := m.plan.layout.Scan()
	for s.Next() {
		it := s.Item()
		e := &it.Entry
		isFetched := fetched(it)
		var whole *wholeFile
		if isFetched {
			k++
			whole = m.reuse.whole[k]
			if whole == nil && reusing {
				m.createdAt = append(m.createdAt, s.Offset())
				m.createdK = append(m.createdK, k)
			}
		}
		if err := names.Add(e); err != nil {
			return fetch.Stats{}, err
		}
		if handled, err := m.root.Whiteout(e); err != nil || handled {
			if err != nil {
				return fetch.Stats{}, err
			}
			if whole != nil {
				untouched = append(untouched, k)
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
				copies = append(copies, reuseJob{k: k, at: s.Offset(), w: whole})
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
	// Before any fetch or link: the caller removes what the scan created.
	if err := names.Finish(func(each func(*toc.Entry) bool) error {
		s := m.plan.layout.Scan() // only to name a refused entry
		for s.Next() {
			if !each(&s.Item().Entry) {
				break
			}
		}
		return s.Err()
	}); err != nil {
		return fetch.Stats{}, err
	}
	m.files = files{p: m.plan, at: m.createdAt}
	started()
	if m.progress != nil {
		for _, k := range untouched {
			m.progress.complete(k)
		}
	}
	// The copies (cold reads of other layers' files, verified on the way)
	// overlap the fetch; what does not verify is fetched afterwards.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	run := m.startCopies(ctx, cancel, copies)
	stats, err := fetch.FetchFiles(ctx, src, m.files, m, opts)
	if err != nil {
		cancel(err)
	}
	rejected, cerr := run.wait(ctx)
	if err == nil {
		err = cerr
	}
	if err == nil && len(rejected) > 0 {
		var more fetch.Stats
		more, err = m.fetchRejected(ctx, src, opts, rejected)
		stats.Add(more)
	}
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

// flatTree materialises the Flat format used by composefs: only regular
// files, one per distinct digest, at "xx/rest-of-hex", with no attributes.
func (m *materializer) flatTree(ctx context.Context, src chunked.ImageSourceSeekable, opts fetch.Options, started func()) (fetch.Stats, map[string]string, error) {
	names := map[string]string{} // cleaned entry name → flat path
	seen := map[digest.Digest]string{}
	var fetchAt []int64
	var created []*toc.Entry
	bound := apply.NewNames(m.root.TempDir()) // one path per entry, bound in tar order
	defer func() { _ = bound.Close() }()      // a temp file at most
	k := -1                                   // fetch index of the current item
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
	if err := bound.Finish(func(each func(*toc.Entry) bool) error {
		s := m.plan.layout.Scan() // only to name a refused entry
		for s.Next() {
			if !each(&s.Item().Entry) {
				break
			}
		}
		return s.Err()
	}); err != nil {
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
		m.progress.complete(m.fetchIndex(i))
	}
	return err
}

// fetchIndex is the plan's fetch index of created file i.
func (m *materializer) fetchIndex(i int) int {
	if m.createdK != nil {
		return m.createdK[i]
	}
	return i
}

// newProgress prepares completion tracking for the files about to be
// fetched or copied from the store. In the Dir format it reads their names
// back from the layout as the reassembly reaches them.
func (m *materializer) newProgress() *progress {
	if m.flat {
		return newProgress(len(m.flatCreated), nil, m.flatNames)
	}
	// Every file with content, copied or fetched, by fetch index.
	return newProgress(len(m.plan.fetchAt), func(k int) (string, error) {
		it, err := m.plan.layout.ReadAt(m.plan.fetchAt[k])
		return it.Entry.Name, err
	}, nil)
}
