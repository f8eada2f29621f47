package diffid

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxTarSplitLine bounds one JSON line of a tar-split, and so the memory a
// decoder needs for it. An honest line holds one tar header (USTAR block,
// PAX records: a 4 KiB path, a 4 KiB link, xattrs of at most 64 KiB each
// per the kernel's XATTR_SIZE_MAX) plus the previous file's padding, or the
// bytes after the end-of-archive (GNU tar pads to 10 KiB), base64-encoded:
// well under 1 MiB in every layer we have seen. 4 MiB leaves room for a
// header carrying dozens of maximal xattrs, and keeps a hostile line (a
// 64 MiB one compresses to 17 KB) from costing more than a few times that.
const MaxTarSplitLine = 4 << 20

// ErrLineTooLong is matched (errors.Is) by a *LineTooLongError.
var ErrLineTooLong = errors.New("tar-split line too long")

// LineTooLongError reports a tar-split line over the limit.
type LineTooLongError struct {
	Line  int64 // 1-based
	Limit int
}

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("tar-split line %d is longer than %d bytes (MaxTarSplitLine)", e.Line, e.Limit)
}

func (e *LineTooLongError) Unwrap() error { return ErrLineTooLong }

// lineLimit counts bytes since the last newline.
type lineLimit struct {
	max  int
	cur  int
	line int64
}

func (l *lineLimit) check(p []byte) (int, error) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if l.cur+len(p) > l.max {
				return l.max - l.cur, &LineTooLongError{Line: l.line + 1, Limit: l.max}
			}
			l.cur += len(p)
			return 0, nil
		}
		if l.cur+i > l.max {
			return l.max - l.cur, &LineTooLongError{Line: l.line + 1, Limit: l.max}
		}
		l.cur = 0
		l.line++
		p = p[i+1:]
	}
	return 0, nil
}

type lineReader struct {
	r   io.Reader
	lim lineLimit
	err error
}

// LimitLines returns a reader of r that fails with a *LineTooLongError as
// soon as a line exceeds max bytes (its newline excluded), before a decoder
// above it has to buffer the line.
func LimitLines(r io.Reader, max int) io.Reader {
	return &lineReader{r: r, lim: lineLimit{max: max}}
}

func (l *lineReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	if _, lerr := l.lim.check(p[:n]); lerr != nil {
		l.err = lerr
		return 0, lerr
	}
	return n, err
}

type lineWriter struct {
	w   io.Writer
	lim lineLimit
}

// LimitLineWriter returns a writer to w that refuses, with a
// *LineTooLongError, to write past a line of more than max bytes: a tar-split
// being inflated to disk stops at the first absurd line.
func LimitLineWriter(w io.Writer, max int) io.Writer {
	return &lineWriter{w: w, lim: lineLimit{max: max}}
}

func (l *lineWriter) Write(p []byte) (int, error) {
	if _, err := l.lim.check(p); err != nil {
		return 0, err
	}
	return l.w.Write(p)
}
