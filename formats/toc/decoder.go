package toc

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	jsoniter "github.com/json-iterator/go"
	"github.com/opencontainers/go-digest"
)

// DecodeError reports a problem with one key of the TOC document.
type DecodeError struct {
	// Entry is the 0-based index in "entries", or -1 for the top level.
	Entry int
	// Name is the entry's name as far as it was decoded (may be empty).
	Name string
	// Key is the JSON key as spelled in the document; empty for errors that
	// are not about one key (syntax, trailing data).
	Key string
	Err error
}

func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString("toc: ")
	if e.Entry >= 0 {
		fmt.Fprintf(&b, "entry %d (%q): ", e.Entry, e.Name)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, "key %q: ", e.Key)
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// ErrTrailingData is wrapped when something follows the top-level object.
// The TOC digest must cover the whole document (FORMATS.md "toc-digest"), so nothing
// may follow it.
var ErrTrailingData = errors.New("unexpected data after the TOC object")

type config struct {
	bufSize     int
	skipEntries bool
}

// Option configures a Decoder.
type Option func(*config)

// WithBufferSize sets the read buffer size (default 64 KiB).
func WithBufferSize(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.bufSize = n
		}
	}
}

// SkipEntries makes the decoder step over "entries" without decoding them:
// Next returns io.EOF at once, and Version and TarSplitDigest are read by a
// scan of the document. A format uses it to learn tarSplitDigest, which
// writers put after the entries, before its one decoding pass.
func SkipEntries() Option {
	return func(c *config) { c.skipEntries = true }
}

type decState int

const (
	stStart decState = iota
	stTop
	stEntries
	stDone
)

// Decoder streams entries from a TOC JSON document, one at a time, so memory
// does not grow with the number of entries. Use it like archive/tar.Reader:
// call Next until it returns io.EOF; then Version and TarSplitDigest hold the
// top-level fields, wherever they appeared in the document.
type Decoder struct {
	it          *jsoniter.Iterator
	skipEntries bool
	state       decState
	index       int
	err         error // sticky

	version        int
	tarSplitDigest digest.Digest

	// entry under construction, used by the object callbacks
	cur     *Entry
	curErr  error
	entryCB func(*jsoniter.Iterator, string) bool
	xattrCB func(*jsoniter.Iterator, string) bool
}

// NewDecoder returns a decoder reading the TOC JSON from r.
func NewDecoder(r io.Reader, opts ...Option) *Decoder {
	c := config{bufSize: 64 << 10}
	for _, o := range opts {
		o(&c)
	}
	d := &Decoder{it: jsoniter.Parse(jsoniter.ConfigFastest, r, c.bufSize), skipEntries: c.skipEntries}
	d.entryCB = d.entryField
	d.xattrCB = d.xattrField
	return d
}

// Version is the top-level "version" (0 if absent). Complete after Next
// returned io.EOF.
func (d *Decoder) Version() int { return d.version }

// TarSplitDigest is the top-level "tarSplitDigest" ("" if absent). Complete
// after Next returned io.EOF.
func (d *Decoder) TarSplitDigest() digest.Digest { return d.tarSplitDigest }

// Index is the number of entries returned so far.
func (d *Decoder) Index() int { return d.index }

// Next returns the next entry, or io.EOF after the last one once the whole
// document has been read and validated. Errors are sticky.
func (d *Decoder) Next() (*Entry, error) {
	if d.err != nil {
		return nil, d.err
	}
	e, err := d.next()
	if err != nil {
		d.err = err
	}
	return e, err
}

// iterErr returns the iterator's error, with io.EOF turned into
// io.ErrUnexpectedEOF: reaching the end anywhere but after the top-level
// object means the document is truncated.
func (d *Decoder) iterErr() error {
	err := d.it.Error
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (d *Decoder) topErr(key string, err error) error {
	return &DecodeError{Entry: -1, Key: key, Err: err}
}

func (d *Decoder) next() (*Entry, error) {
	it := d.it
	for {
		switch d.state {
		case stStart:
			if t := it.WhatIsNext(); t != jsoniter.ObjectValue {
				if err := d.iterErr(); err != nil {
					return nil, d.topErr("", err)
				}
				return nil, d.topErr("", fmt.Errorf("top level is %s, want an object", kindName(t)))
			}
			d.state = stTop
		case stTop:
			// ReadObject consumes '{' or ',' and returns the key, or
			// consumes '}' and returns "". An empty key is also "", so
			// tell them apart by what follows (see end).
			field := it.ReadObject()
			if err := d.iterErr(); err != nil {
				return nil, d.topErr("", err)
			}
			if field == "" {
				return nil, d.end()
			}
			if err := d.topField(field); err != nil {
				return nil, err
			}
		case stEntries:
			if !it.ReadArray() {
				if err := d.iterErr(); err != nil {
					return nil, &DecodeError{Entry: d.index, Err: err}
				}
				d.state = stTop
				continue
			}
			return d.readEntry()
		case stDone:
			return nil, io.EOF
		}
	}
}

// end checks that the document ends after the top-level object.
func (d *Decoder) end() error {
	t := d.it.WhatIsNext()
	if t != jsoniter.InvalidValue {
		// Either trailing data after '}' or an empty top-level key;
		// both are rejected (upstream rejects both too).
		return d.topErr("", fmt.Errorf("%w (or an empty key)", ErrTrailingData))
	}
	switch d.it.Error {
	case io.EOF:
		d.state = stDone
		return io.EOF
	case nil:
		return d.topErr("", ErrTrailingData)
	default:
		return d.topErr("", d.it.Error)
	}
}

func (d *Decoder) topField(field string) error {
	it := d.it
	switch topKey(field) {
	case keyVersion:
		v, err := d.readInt64()
		if err == nil && (v < math.MinInt32 || v > math.MaxInt32) {
			err = fmt.Errorf("out of range: %d", v)
		}
		if err != nil {
			return d.topErr(field, err)
		}
		d.version = int(v)
	case keyEntries:
		switch t := it.WhatIsNext(); t {
		case jsoniter.NilValue:
			it.Skip()
			return nil
		case jsoniter.ArrayValue:
			if d.skipEntries {
				it.Skip()
				if err := d.iterErr(); err != nil {
					return d.topErr(field, err)
				}
				return nil
			}
			d.state = stEntries
			return nil
		default:
			if err := d.iterErr(); err != nil {
				return d.topErr(field, err)
			}
			return d.topErr(field, typeError("array", t))
		}
	case keyTarSplitDigest:
		s, present, err := d.readString()
		if err == nil && present {
			var dg digest.Digest
			dg, err = digest.Parse(s)
			if err != nil {
				err = fmt.Errorf("invalid digest %q: %w", s, err)
			}
			d.tarSplitDigest = dg
		}
		if err != nil {
			return d.topErr(field, err)
		}
	default:
		it.Skip()
		if err := d.iterErr(); err != nil {
			return d.topErr(field, err)
		}
	}
	return nil
}

func (d *Decoder) readEntry() (*Entry, error) {
	it := d.it
	if t := it.WhatIsNext(); t != jsoniter.ObjectValue {
		if err := d.iterErr(); err != nil {
			return nil, &DecodeError{Entry: d.index, Err: err}
		}
		return nil, &DecodeError{Entry: d.index, Err: typeError("object", t)}
	}
	e := &Entry{}
	d.cur, d.curErr = e, nil
	it.ReadObjectCB(d.entryCB)
	d.cur = nil
	if d.curErr != nil {
		return nil, d.curErr
	}
	if err := d.iterErr(); err != nil {
		return nil, &DecodeError{Entry: d.index, Name: e.Name, Err: err}
	}
	// Same normalisation as upstream: the writer omits the digest of empty
	// files.
	if e.Type == TypeReg && e.Size == 0 && e.Digest == "" {
		e.Digest = EmptyDigest
	}
	d.index++
	return e, nil
}

func (d *Decoder) entryField(_ *jsoniter.Iterator, field string) bool {
	e := d.cur
	var err error
	switch entryKey(field) {
	case keyType:
		e.Type, _, err = d.readString()
	case keyName:
		e.Name, _, err = d.readString()
	case keyLinkName:
		e.LinkName, _, err = d.readString()
	case keyMode:
		e.Mode, err = d.readInt64()
	case keySize:
		e.Size, err = d.readInt64()
	case keyUID:
		e.UID, err = d.readInt()
	case keyGID:
		e.GID, err = d.readInt()
	case keyModTime:
		e.ModTime, err = d.readTime()
	case keyAccessTime:
		e.AccessTime, err = d.readTime()
	case keyChangeTime:
		e.ChangeTime, err = d.readTime()
	case keyDevMajor:
		e.DevMajor, err = d.readInt64()
	case keyDevMinor:
		e.DevMinor, err = d.readInt64()
	case keyXattrs:
		err = d.readXattrs()
	case keyDigest:
		var s string
		s, _, err = d.readString()
		e.Digest = digest.Digest(s)
	case keyOffset:
		e.Offset, err = d.readInt64()
	case keyEndOffset:
		e.EndOffset, err = d.readInt64()
	case keyChunkSize:
		e.ChunkSize, err = d.readInt64()
	case keyChunkOffset:
		e.ChunkOffset, err = d.readInt64()
	case keyChunkDigest:
		var s string
		s, _, err = d.readString()
		e.ChunkDigest = digest.Digest(s)
	case keyChunkType:
		e.ChunkType, _, err = d.readString()
	case keyInnerOffset:
		e.InnerOffset, err = d.readInt64()
	default:
		d.it.Skip()
		err = d.iterErr()
	}
	if err != nil {
		d.curErr = &DecodeError{Entry: d.index, Name: e.Name, Key: field, Err: err}
		return false
	}
	return true
}

func (d *Decoder) readXattrs() error {
	switch t := d.it.WhatIsNext(); t {
	case jsoniter.NilValue:
		d.it.Skip()
		return d.iterErr()
	case jsoniter.ObjectValue:
	default:
		if err := d.iterErr(); err != nil {
			return err
		}
		return typeError("object", t)
	}
	if d.cur.Xattrs == nil {
		d.cur.Xattrs = map[string]string{}
	}
	saved := d.curErr
	d.curErr = nil
	d.it.ReadObjectCB(d.xattrCB)
	if d.curErr != nil {
		err := d.curErr
		d.curErr = saved
		return err
	}
	d.curErr = saved
	return d.iterErr()
}

func (d *Decoder) xattrField(_ *jsoniter.Iterator, name string) bool {
	s, _, err := d.readString()
	if err == nil {
		// Validated here because every consumer needs the raw bytes
		// eventually; a bad value is a broken TOC.
		if _, derr := base64.StdEncoding.DecodeString(s); derr != nil {
			err = fmt.Errorf("xattr %q: invalid base64 value: %w", name, derr)
		}
	} else {
		err = fmt.Errorf("xattr %q: %w", name, err)
	}
	if err != nil {
		d.curErr = err
		return false
	}
	d.cur.Xattrs[name] = s
	return true
}

// readString reads a string; null is accepted as absent (as encoding/json
// does), any other type is an error.
func (d *Decoder) readString() (string, bool, error) {
	switch t := d.it.WhatIsNext(); t {
	case jsoniter.StringValue:
		s := d.it.ReadString()
		return s, true, d.iterErr()
	case jsoniter.NilValue:
		d.it.Skip()
		return "", false, d.iterErr()
	default:
		if err := d.iterErr(); err != nil {
			return "", false, err
		}
		return "", false, typeError("string", t)
	}
}

// readInt64 reads an integer (fractions and exponents are rejected by the
// iterator); null is accepted as 0.
func (d *Decoder) readInt64() (int64, error) {
	switch t := d.it.WhatIsNext(); t {
	case jsoniter.NumberValue:
		v := d.it.ReadInt64()
		if err := d.iterErr(); err != nil {
			return 0, err
		}
		return v, nil
	case jsoniter.NilValue:
		d.it.Skip()
		return 0, d.iterErr()
	default:
		if err := d.iterErr(); err != nil {
			return 0, err
		}
		return 0, typeError("integer", t)
	}
}

func (d *Decoder) readInt() (int, error) {
	v, err := d.readInt64()
	if err != nil {
		return 0, err
	}
	if v < math.MinInt || v > math.MaxInt {
		return 0, fmt.Errorf("out of range: %d", v)
	}
	return int(v), nil
}

// readTime parses an RFC 3339 time (fractional seconds allowed), like
// upstream; null means absent.
func (d *Decoder) readTime() (time.Time, error) {
	s, present, err := d.readString()
	if err != nil || !present {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time %q: %w", s, err)
	}
	return t, nil
}

func typeError(want string, got jsoniter.ValueType) error {
	return fmt.Errorf("wrong value type: want %s, got %s", want, kindName(got))
}

func kindName(t jsoniter.ValueType) string {
	switch t {
	case jsoniter.StringValue:
		return "string"
	case jsoniter.NumberValue:
		return "number"
	case jsoniter.NilValue:
		return "null"
	case jsoniter.BoolValue:
		return "boolean"
	case jsoniter.ArrayValue:
		return "array"
	case jsoniter.ObjectValue:
		return "object"
	default:
		return "invalid JSON"
	}
}
