package differ

import (
	"fmt"
	"path"
	"strings"
	"sync"
)

// progress tracks which fetched files are complete, so the DiffID can be
// computed while the layer is still being fetched: the reassembly reads
// files in tar order, fetching produces them in (nearly) the same order, and
// the two run on different cores.
type progress struct {
	// index maps a cleaned entry name to the fetch index producing it and
	// the path to read it from (the flat path in the Flat format).
	index map[string]tracked
	done  []chan struct{}

	mu     sync.Mutex
	failed error
}

type tracked struct {
	fetch int
	path  string
}

func newProgress(files int) *progress {
	p := &progress{index: map[string]tracked{}, done: make([]chan struct{}, files)}
	for i := range p.done {
		p.done[i] = make(chan struct{})
	}
	return p
}

// track records that entry name is produced by fetch index i at path.
// Names are kept as given (no copy): the tar-split names entries exactly as
// the TOC does, and wait falls back to the cleaned form.
func (p *progress) track(name string, i int, at string) {
	p.index[name] = tracked{fetch: i, path: at}
}

// complete marks fetch index i as written and verified.
func (p *progress) complete(i int) { close(p.done[i]) }

// fail releases every waiter with err (the first error wins).
func (p *progress) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed != nil {
		return
	}
	p.failed = err
	for _, ch := range p.done {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
}

// wait blocks until the file the tar names as name is complete and returns
// the path to read it from. Names that are not fetched (already on disk)
// return at once.
func (p *progress) wait(name string) (string, error) {
	t, ok := p.index[name]
	if !ok {
		if t, ok = p.index[cleanKey(name)]; !ok {
			return name, nil
		}
	}
	<-p.done[t.fetch]
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed != nil {
		return "", fmt.Errorf("waiting for %q: %w", name, p.failed)
	}
	return t.path, nil
}

func cleanKey(name string) string { return path.Clean("/" + strings.TrimPrefix(name, "./")) }
