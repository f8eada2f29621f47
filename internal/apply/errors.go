package apply

import (
	"errors"
	"fmt"
)

// ErrInsecurePath is matched (errors.Is) by every *InsecurePathError.
var ErrInsecurePath = errors.New("insecure path")

// ErrConflict is matched (errors.Is) by every *ConflictError.
var ErrConflict = errors.New("conflicting entry")

// InsecurePathError reports an entry that would be written outside the
// destination or through a symlink.
type InsecurePathError struct {
	Name   string // entry name as given
	Reason string
}

func (e *InsecurePathError) Error() string {
	return fmt.Sprintf("apply %q: insecure path: %s", e.Name, e.Reason)
}

func (e *InsecurePathError) Unwrap() error { return ErrInsecurePath }

// ConflictError reports an entry that clashes with something already in the
// tree: a duplicate name, or a non-directory where a directory is needed.
type ConflictError struct {
	Name   string
	Reason string
	Err    error // the errno that revealed it, if any
}

func (e *ConflictError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("apply %q: %s: %v", e.Name, e.Reason, e.Err)
	}
	return fmt.Sprintf("apply %q: %s", e.Name, e.Reason)
}

func (e *ConflictError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrConflict}
	}
	return []error{ErrConflict, e.Err}
}

// UnmappedIDError reports a UID or GID that the ID mappings do not cover.
type UnmappedIDError struct {
	Name string
	Kind string // "uid" or "gid"
	ID   int
	Err  error
}

func (e *UnmappedIDError) Error() string {
	return fmt.Sprintf("apply %q: %s %d is not mapped: %v", e.Name, e.Kind, e.ID, e.Err)
}

func (e *UnmappedIDError) Unwrap() error { return e.Err }

// EntryError is any other failure while applying an entry: the syscall
// that failed and its error.
type EntryError struct {
	Name string
	Op   string
	Err  error
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("apply %q: %s: %v", e.Name, e.Op, e.Err)
}

func (e *EntryError) Unwrap() error { return e.Err }

func entryErr(name, op string, err error) error {
	return &EntryError{Name: name, Op: op, Err: err}
}
