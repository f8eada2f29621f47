package differ

import (
	"fmt"
	"os"
	"sync"
)

// sourceCache keeps the store files local chunks are read from open, at
// most maxOpenSources of them (beyond those being read at the moment): the
// least recently used idle one is closed to open another, and reopened if
// it is read again. Keeping each open until the end took one descriptor
// per source file, EMFILE on an update of a large image (issue 12). Files
// are read with ReadAt only, so one open file serves every reader.
type sourceCache struct {
	open   func(location) *os.File // confined as reuse.openSource; nil if gone
	mu     sync.Mutex
	byKey  map[string]*cachedSource
	tick   uint64 // for least-recently-used eviction
	closed bool
}

// maxOpenSources bounds the idle sources kept open: a layer's chunks come
// mostly from a few files at a time, and layers with fewer sources keep
// all of them open, as before the bound. It is generous because an evicted
// source is reopened by path: a layer deleted from the store while this
// pull runs can no longer be read then, and the pull fails where an open
// descriptor would still have read it (upstream reopens every chunk's
// source at apply time). A var for tests.
var maxOpenSources = 512

// cachedSource is an open source, in use by refs readers.
type cachedSource struct {
	key  string
	f    *os.File
	refs int
	used uint64
}

func newSourceCache(open func(location) *os.File) *sourceCache {
	return &sourceCache{open: open, byKey: map[string]*cachedSource{}}
}

// acquire returns l's file, open, or nil if it cannot be opened; the
// caller releases it after reading.
func (c *sourceCache) acquire(l location) *cachedSource {
	key := l.dir + "\x00" + l.path
	if l.trusted {
		key = "\x01" + l.path // another namespace: opened as is, not confined
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.tick++
	if s, ok := c.byKey[key]; ok {
		s.refs++
		s.used = c.tick
		return s
	}
	// Opened under the lock: simple, and an open is short next to the
	// reads it serves.
	f := c.open(l)
	if f == nil {
		return nil
	}
	for len(c.byKey) >= maxOpenSources {
		if !c.evict() {
			break // all being read: over the bound by the readers at most
		}
	}
	s := &cachedSource{key: key, f: f, refs: 1, used: c.tick}
	c.byKey[key] = s
	return s
}

// evict closes the least recently used idle source (c.mu held); false if
// every source is being read.
func (c *sourceCache) evict() bool {
	var victim *cachedSource
	for _, s := range c.byKey {
		if s.refs == 0 && (victim == nil || s.used < victim.used) {
			victim = s
		}
	}
	if victim == nil {
		return false
	}
	delete(c.byKey, victim.key)
	_ = victim.f.Close() // read-only: nothing to flush
	return true
}

// release ends a read of s.
func (c *sourceCache) release(s *cachedSource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.refs--
	if c.closed && s.refs == 0 {
		_ = s.f.Close()
	}
}

// close closes the sources (those being read once released).
func (c *sourceCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for key, s := range c.byKey {
		if s.refs == 0 {
			_ = s.f.Close()
		}
		delete(c.byKey, key)
	}
}

// localSource is a local chunk's source as fetching reads it
// (fetch.Chunk.Local): through the cache, opened at the first read, or
// again if it was closed since. A file that can no longer be opened fails
// the read; what is read is verified against the chunk's digest as before.
type localSource struct {
	c   *sourceCache
	loc location
}

func (s localSource) ReadAt(p []byte, off int64) (int, error) {
	cs := s.c.acquire(s.loc)
	if cs == nil {
		return 0, fmt.Errorf("local chunk source %q in %q can no longer be opened", s.loc.path, s.loc.dir)
	}
	defer s.c.release(cs)
	return cs.f.ReadAt(p, off)
}
