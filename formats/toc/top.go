package toc

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// ScanTop reads the top-level fields of the document open returns, without
// decoding its entries: Version and TarSplitDigest of the finished decoder
// it returns. A format runs it before its one decoding pass, to learn
// tarSplitDigest, which writers put after the entries.
//
// A byte scan steps over "entries" (tracking only strings and brackets,
// about ten times faster than decoding them) and the decoder reads the
// other top-level members, so their meaning is the decoder's own. Documents
// the scan does not expect (escaped keys, large other members, syntax it
// cannot follow) are read by the decoder with SkipEntries instead; and a
// malformed document is decoded again in full for its error, which then
// names the entry at fault. Failing loads may cost a second pass, good ones
// never do.
func ScanTop(open func() io.Reader) (*Decoder, error) {
	if rest, ok := topMembers(open()); ok {
		d := NewDecoder(bytes.NewReader(rest))
		if _, err := d.Next(); err == io.EOF {
			return d, nil
		}
	}
	d := NewDecoder(open(), SkipEntries())
	_, err := d.Next()
	if err == io.EOF {
		return d, nil
	}
	full := NewDecoder(open())
	for {
		if _, ferr := full.Next(); ferr != nil {
			if ferr != io.EOF {
				err = ferr
			}
			return nil, err
		}
	}
}

// maxTopMembers bounds the top-level members other than "entries" that
// topMembers copies: real TOCs have two short ones (version,
// tarSplitDigest); a document with more is left to the decoder.
const maxTopMembers = 64 << 10

var errScan = errors.New("toc: top-level scan gave up")

// topMembers returns the document r holds with its "entries" members left
// out: '{', the other members verbatim, '}'. ok is false where the scan
// gives up (see ScanTop).
func topMembers(r io.Reader) (doc []byte, ok bool) {
	s := topScanner{br: bufio.NewReaderSize(r, 64<<10), out: []byte{'{'}}
	if err := s.object(); err != nil {
		return nil, false
	}
	return append(s.out, '}'), true
}

type topScanner struct {
	br  *bufio.Reader
	out []byte
}

// next returns the next byte that is not JSON whitespace.
func (s *topScanner) next() (byte, error) {
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c, nil
	}
}

func (s *topScanner) object() error {
	if c, err := s.next(); err != nil || c != '{' {
		return errScan
	}
	first := true
	for {
		c, err := s.next()
		if err != nil {
			return errScan
		}
		if c == '}' {
			break
		}
		if !first {
			if c != ',' {
				return errScan
			}
			if c, err = s.next(); err != nil {
				return errScan
			}
		}
		if c != '"' {
			return errScan
		}
		key, err := s.br.ReadSlice('"')
		if err != nil {
			return errScan
		}
		key = bytes.Clone(key[:len(key)-1]) // the reader's buffer moves on
		if bytes.IndexByte(key, '\\') >= 0 {
			return errScan // escaped keys are the decoder's to read
		}
		if c, err := s.next(); err != nil || c != ':' {
			return errScan
		}
		if strings.EqualFold(string(key), "entries") {
			if err := s.value(nil); err != nil {
				return err
			}
			first = false
			continue
		}
		if !first || len(s.out) > 1 {
			s.out = append(s.out, ',')
		}
		s.out = append(s.out, '"')
		s.out = append(s.out, key...)
		s.out = append(s.out, '"', ':')
		keep := &s.out
		if err := s.value(keep); err != nil {
			return err
		}
		if len(s.out) > maxTopMembers {
			return errScan
		}
		first = false
	}
	// Only whitespace may follow; the decoder rejects anything else.
	if _, err := s.next(); err != io.EOF {
		return errScan
	}
	return nil
}

// value steps over one JSON value, appending its bytes to *keep when keep
// is not nil. Strings and nesting are tracked; nothing else is validated
// (the decoding pass does that).
func (s *topScanner) value(keep *[]byte) error {
	c, err := s.next()
	if err != nil {
		return errScan
	}
	if err := s.br.UnreadByte(); err != nil {
		return errScan
	}
	if c != '{' && c != '[' && c != '"' {
		return s.scalar(keep)
	}
	var sc bracketScan
	for {
		buf, _ := s.br.Peek(max(s.br.Buffered(), 1))
		if len(buf) == 0 {
			return errScan
		}
		n, done, err := sc.feed(buf)
		if err != nil {
			return err
		}
		if err := s.take(keep, n); err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// bracketScan finds the end of an array, object or string fed to it in
// pieces. Most of a TOC is string bytes, so strings are crossed with
// IndexByte (vectorised) rather than byte by byte.
type bracketScan struct {
	depth    int
	inString bool
	escaped  bool // the previous piece ended on an unpaired backslash
}

// feed scans buf and returns how many of its bytes belong to the value, and
// whether the value ended there.
func (sc *bracketScan) feed(buf []byte) (n int, done bool, err error) {
	for i := 0; i < len(buf); {
		if sc.inString {
			if sc.escaped {
				sc.escaped = false
				i++
				continue
			}
			j := bytes.IndexByte(buf[i:], '"')
			if j < 0 {
				sc.escaped = backslashes(buf[i:])%2 == 1
				return len(buf), false, nil
			}
			end := i + j
			if backslashes(buf[i:end])%2 == 1 {
				i = end + 1 // an escaped quote
				continue
			}
			sc.inString = false
			i = end + 1
			if sc.depth == 0 {
				return i, true, nil // a string value
			}
			continue
		}
		switch buf[i] {
		case '"':
			sc.inString = true
		case '{', '[':
			sc.depth++
		case '}', ']':
			sc.depth--
			if sc.depth == 0 {
				return i + 1, true, nil
			}
			if sc.depth < 0 {
				return 0, false, errScan
			}
		}
		i++
	}
	return len(buf), false, nil
}

// backslashes counts the backslashes that end b.
func backslashes(b []byte) int {
	n := 0
	for n < len(b) && b[len(b)-1-n] == '\\' {
		n++
	}
	return n
}

// scalar steps over a number, true, false or null.
func (s *topScanner) scalar(keep *[]byte) error {
	for taken := 0; ; {
		buf, _ := s.br.Peek(max(s.br.Buffered(), 1))
		if len(buf) == 0 {
			return errScan
		}
		if i := bytes.IndexAny(buf, ",} \t\r\n"); i >= 0 {
			if taken+i == 0 {
				return errScan
			}
			return s.take(keep, i)
		}
		if err := s.take(keep, len(buf)); err != nil {
			return err
		}
		taken += len(buf)
	}
}

// take consumes n buffered bytes, keeping them when keep is not nil.
func (s *topScanner) take(keep *[]byte, n int) error {
	if keep != nil {
		buf, _ := s.br.Peek(n)
		*keep = append(*keep, buf...)
		if len(*keep) > maxTopMembers {
			return errScan
		}
	}
	_, err := s.br.Discard(n)
	return err
}
