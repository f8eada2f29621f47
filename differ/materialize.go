package differ

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"sync"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"github.com/chunkdiff/chunkdiff/internal/apply"
	"github.com/chunkdiff/chunkdiff/internal/fetch"
	"github.com/chunkdiff/chunkdiff/internal/keyset"
	"github.com/chunkdiff/chunkdiff/internal/layout"
	"github.com/chunkdiff/chunkdiff/internal/offsets"
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
	// createdAt[i] is the record offset of the file created as index i:
	// its entry is read back from the layout (and made flat in the Flat
	// format) rather than kept.
	createdAt *offsets.List
	// createdK[i] is the plan's fetch index of created file i (Dir format
	// with reuse; nil: the same index), as the DiffID's progress counts.
	createdK *offsets.List
	// tempDir holds the lists' temp files; lists are the lists made here,
	// released by close.
	tempDir string
	lists   []*offsets.List
	// opened holds the entries of the files open between Sink.Open and
	// Sink.Close (a few: one per fetch worker).
	mu     sync.Mutex
	opened map[int]*toc.Entry
	// progress, when set, learns of every completed file (for the DiffID
	// computed alongside the fetch).
	progress *progress
	// files is what fetching produces, set before started runs.
	files fetch.Files
}

// newList returns an empty list the materializer releases in close.
func (m *materializer) newList() *offsets.List {
	l := offsets.New(m.tempDir)
	m.lists = append(m.lists, l)
	return l
}

// close releases the lists' temp files.
func (m *materializer) close() error {
	var errs []error
	for _, l := range m.lists {
		errs = append(errs, l.Close())
	}
	m.lists = nil
	return errors.Join(errs...)
}

// appendTo adds v to l, with what the list is for in the error.
func appendTo(l *offsets.List, v int64, what string) error {
	if err := l.Append(v); err != nil {
		return fmt.Errorf("listing %s: %w", what, err)
	}
	return nil
}

// tree materialises every entry in TOC order (Dir format): directories,
// empty files, symlinks, devices and whiteouts at once, regular files with
// content copied from the store (verified on the way, copyreuse.go) or
// fetched, the two at the same time, hard links last (their targets must
// exist), directory times at the very end (creating children changes them).
//
// started runs once every file to fetch is known, before fetching begins.
func (m *materializer) tree(ctx context.Context, src chunked.ImageSourceSeekable, opts fetch.Options, started func()) (fetch.Stats, error) {
	links := m.newList()                      // record offsets of the hard links
	names := apply.NewNames(m.root.TempDir()) // one path per entry, bound in tar order
	defer func() { _ = names.Close() }()      // a temp file at most
	reusing := m.reuse.whole.len() > 0
	m.createdAt, m.createdK = m.plan.fetchAt, nil // without reuse, the same list
	if reusing {
		m.createdAt, m.createdK = m.newList(), m.newList() // fetch files not reused, in order
	}
	cands := m.reuse.whole.scan() // the candidates, in fetch order
	copies := m.newList()         // record offsets of the candidates to copy, in order
	untouched := m.newList()      // fetch files a whiteout took: neither copied nor fetched
	k := -1                       // fetch index of the current item
	s := m.plan.layout.Scan()
	for s.Next() {
		it := s.Item()
		e := &it.Entry
		isFetched := fetched(it)
		var whole bool    // a candidate in the store
		var wholeAt int64 // its record in m.reuse.whole
		if isFetched {
			k++
			var err error
			if wholeAt, whole, _, err = cands.next(); err != nil {
				return fetch.Stats{}, err
			}
			if !whole && reusing {
				if err := appendTo(m.createdAt, s.Offset(), "the files to fetch"); err != nil {
					return fetch.Stats{}, err
				}
				if err := appendTo(m.createdK, int64(k), "the files to fetch"); err != nil {
					return fetch.Stats{}, err
				}
			}
		}
		if err := names.Add(e); err != nil {
			return fetch.Stats{}, err
		}
		if handled, err := m.root.Whiteout(e); err != nil || handled {
			if err != nil {
				return fetch.Stats{}, err
			}
			if whole {
				if err := appendTo(untouched, int64(k), "the files under whiteouts"); err != nil {
					return fetch.Stats{}, err
				}
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
			} else if whole {
				err = appendTo(copies, wholeAt, "the files to copy")
			}
		case toc.TypeSymlink:
			err = m.root.Symlink(e)
		case toc.TypeChar, toc.TypeBlock, toc.TypeFifo:
			err = m.root.Device(e)
		case toc.TypeHardlink:
			err = appendTo(links, s.Offset(), "the hard links")
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
	if err := names.Finish(m.replayEntries); err != nil {
		return fetch.Stats{}, err
	}
	m.files = files{p: m.plan, at: m.createdAt, ks: m.createdK}
	started()
	if m.progress != nil {
		for i := range untouched.Len() {
			k, err := untouched.At(i)
			if err != nil {
				return fetch.Stats{}, err
			}
			m.progress.complete(int(k))
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
	if err == nil && rejected > 0 {
		var more fetch.Stats
		more, err = m.fetchRejected(ctx, src, opts)
		stats.Add(more)
	}
	if err != nil {
		return stats, err
	}
	for i := range links.Len() {
		at, err := links.At(i)
		if err != nil {
			return stats, err
		}
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

// replayEntries gives the layout's entries to each in order, until it
// returns false (apply.Replay: only to name an entry a binding refused).
func (m *materializer) replayEntries(each func(*toc.Entry) bool) error {
	s := m.plan.layout.Scan()
	for s.Next() {
		if !each(&s.Item().Entry) {
			break
		}
	}
	return s.Err()
}

// flatTree materialises the Flat format used by composefs: only regular
// files, one per distinct digest, at "xx/rest-of-hex", with no attributes.
// A first pass binds the names and sorts the digests to find each one's
// first entry (keyset.FirstOccurrences: on disk beyond a constant), a
// second creates the files at those entries, so nothing per entry is kept
// in memory.
func (m *materializer) flatTree(ctx context.Context, src chunked.ImageSourceSeekable, opts fetch.Options, started func()) (fetch.Stats, error) {
	bound := apply.NewNames(m.root.TempDir()) // one path per entry, bound in tar order
	defer func() { _ = bound.Close() }()      // a temp file at most
	firsts := keyset.NewFirstOccurrences(m.tempDir)
	defer func() { _ = firsts.Close() }() // temp files at most
	s := m.plan.layout.Scan()
	for s.Next() {
		it := s.Item()
		if err := bound.Add(&it.Entry); err != nil {
			return fetch.Stats{}, err
		}
		if it.Entry.Type != toc.TypeReg {
			continue
		}
		e, err := flatEntry(&it.Entry)
		if err != nil {
			return fetch.Stats{}, err
		}
		if err := firsts.Add(digestKey(e.Digest), s.Offset()); err != nil {
			return fetch.Stats{}, fmt.Errorf("sorting the layer's digests: %w", err)
		}
	}
	if err := s.Err(); err != nil {
		return fetch.Stats{}, err
	}
	if err := bound.Finish(m.replayEntries); err != nil {
		return fetch.Stats{}, err
	}
	fetchAt, fetchK, err := m.createFlat(firsts)
	if err != nil {
		return fetch.Stats{}, err
	}
	m.createdAt = fetchAt
	m.files = files{p: m.plan, at: fetchAt, ks: fetchK}
	started()
	return fetch.FetchFiles(ctx, src, m.files, m, opts)
}

// createFlat creates the first entry of every digest, an empty file at
// once, and returns the others, the files to fetch: their record offsets
// and their fetch indices (by which reuse found their local chunks).
func (m *materializer) createFlat(firsts *keyset.FirstOccurrences) (fetchAt, fetchK *offsets.List, err error) {
	fetchAt, fetchK = m.newList(), m.newList()
	ps, err := firsts.Positions()
	if err != nil {
		return nil, nil, fmt.Errorf("sorting the layer's digests: %w", err)
	}
	next, more, err := ps.Next()
	k := -1 // fetch index of the current item
	s := m.plan.layout.Scan()
	for err == nil && more && s.Next() {
		it := s.Item()
		if fetched(it) {
			k++
		}
		if s.Offset() != next {
			continue
		}
		e, ferr := flatEntry(&it.Entry)
		if ferr != nil {
			err = ferr
			break
		}
		err = m.root.Dir(&toc.Entry{Type: toc.TypeDir, Name: path.Dir(e.Name), Mode: 0o755})
		switch {
		case err != nil:
		case !fetched(it):
			err = m.root.EmptyFile(e)
		default:
			err = appendTo(fetchAt, s.Offset(), "the files to fetch")
			if err == nil {
				err = appendTo(fetchK, int64(k), "the files to fetch")
			}
		}
		if err == nil {
			next, more, err = ps.Next()
		}
	}
	if err == nil {
		err = s.Err()
	}
	if err == nil && more {
		err = fmt.Errorf("layout: no entry at record %d, where a digest was first seen", next)
	}
	if err != nil {
		return nil, nil, err
	}
	return fetchAt, fetchK, nil
}

// digestKey is the key a digest is sorted by: 128 bits of it (flatEntry
// has checked it is a valid sha256). A collision would only share one
// file's content with another, which the DiffID, recomputed from the files,
// would refuse.
func digestKey(d digest.Digest) keyset.Key {
	var k keyset.Key
	_, _ = hex.Decode(k[:], []byte(d.Encoded()[:2*len(k)]))
	return k
}

// flatNames maps the tar's names, in tar order, to the flat paths holding
// their contents (for the DiffID): a cursor over the layout, which lists
// the files in the tar-split's order (the TOC ↔ tar-split check), so
// nothing per file is kept.
type flatNames struct {
	s *layout.Scanner
}

// path returns the flat path of the regular file the tar names name, the
// next such entry of the layout.
func (f *flatNames) path(name string) (string, error) {
	want := cleanKey(name)
	for f.s.Next() {
		e := &f.s.Item().Entry
		if e.Type != toc.TypeReg || cleanKey(e.Name) != want {
			continue
		}
		flat, err := flatEntry(e)
		if err != nil {
			return "", err
		}
		return flat.Name, nil
	}
	if err := f.s.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("tar-split names %q, which the TOC does not have at this point", name)
}

// flatEntry is regular file e as the Flat format creates it: at the path
// its digest names, with no attributes.
func flatEntry(e *toc.Entry) (*toc.Entry, error) {
	dg := e.Digest
	if dg == "" {
		dg = toc.EmptyDigest
	}
	flat, err := flatPath(dg)
	if err != nil {
		return nil, fmt.Errorf("entry %q: %w", e.Name, err)
	}
	return &toc.Entry{Type: toc.TypeReg, Name: flat, Mode: 0o644, Size: e.Size, Digest: dg}, nil
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
	m.mu.Lock()
	e := m.opened[i]
	m.mu.Unlock()
	if e != nil {
		return e, nil
	}
	at, err := m.createdAt.At(i)
	if err != nil {
		return nil, err
	}
	it, err := m.plan.layout.ReadAt(at)
	if err != nil {
		return nil, err
	}
	if m.flat {
		return flatEntry(&it.Entry)
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
	if err == nil {
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
		var k int
		if k, err = m.fetchIndex(i); err == nil {
			m.progress.complete(k)
		}
	}
	return err
}

// fetchIndex is the plan's fetch index of created file i.
func (m *materializer) fetchIndex(i int) (int, error) {
	if m.createdK == nil {
		return i, nil
	}
	k, err := m.createdK.At(i)
	return int(k), err
}

// newProgress prepares completion tracking for the files about to be
// fetched or copied from the store. In the Dir format it reads their names
// back from the layout as the reassembly reaches them.
func (m *materializer) newProgress() *progress {
	if m.flat {
		names := &flatNames{s: m.plan.layout.Scan()}
		return newProgress(m.createdAt.Len(), nil, names.path)
	}
	// Every file with content, copied or fetched, by fetch index.
	return newProgress(m.plan.fetchAt.Len(), func(k int) (string, error) {
		at, err := m.plan.fetchAt.At(k)
		if err != nil {
			return "", err
		}
		it, err := m.plan.layout.ReadAt(at)
		return it.Entry.Name, err
	}, nil)
}
