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
//
// In the Dir format no lookup table is needed: the tar-split lists files in
// the TOC's order (the TOC ↔ tar-split check enforces it), so the files to
// fetch come up in the reassembly exactly in fetch order, each under its TOC
// name; any other name is a file that is not fetched (reused, or empty) and
// already complete.
type progress struct {
	mu        sync.Mutex
	cond      *sync.Cond
	n         int     // files to complete
	done      doneSet // by fetch index: memory for the out-of-order window only
	completed int
	failed    error

	// Dir format: name(i) is the name fetch file i has in the tar (read
	// back from the layout once, when the cursor reaches i: nothing per
	// file is kept).
	name    func(i int) (string, error)
	cursor  int
	curName string
	curRead bool // curName is name(cursor)
	// Flat format: resolve maps a tar name to the flat path holding it,
	// called in tar order; contents are shared between names, so waits
	// wait for every file.
	resolve func(name string) (string, error)
}

func newProgress(n int, name func(int) (string, error), resolve func(string) (string, error)) *progress {
	p := &progress{n: n, name: name, resolve: resolve}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// complete marks fetch index i as written and verified.
func (p *progress) complete(i int) {
	p.mu.Lock()
	if p.done.add(i) {
		p.completed++
	}
	p.mu.Unlock()
	p.cond.Broadcast()
}

// fail releases every waiter with err (the first error wins).
func (p *progress) fail(err error) {
	p.mu.Lock()
	if p.failed == nil {
		p.failed = err
	}
	p.mu.Unlock()
	p.cond.Broadcast()
}

// wait blocks until the file the tar names as name is complete and returns
// the path to read it from.
func (p *progress) wait(name string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resolve != nil {
		for p.completed < p.n && p.failed == nil {
			p.cond.Wait()
		}
		if p.failed != nil {
			return "", fmt.Errorf("waiting for %q: %w", name, p.failed)
		}
		return p.resolve(name)
	}
	if p.cursor >= p.n {
		return name, nil // not fetched: already on disk
	}
	if !p.curRead {
		next, err := p.name(p.cursor)
		if err != nil {
			return "", fmt.Errorf("waiting for %q: %w", name, err)
		}
		p.curName, p.curRead = next, true
	}
	if p.curName != name {
		return name, nil // not fetched: already on disk
	}
	i := p.cursor
	p.cursor++
	p.curRead = false
	for !p.done.has(i) && p.failed == nil {
		p.cond.Wait()
	}
	if !p.done.has(i) {
		return "", fmt.Errorf("waiting for %q: %w", name, p.failed)
	}
	return name, nil
}

func cleanKey(name string) string { return path.Clean("/" + strings.TrimPrefix(name, "./")) }
