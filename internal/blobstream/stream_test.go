package blobstream

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// blocking is a source stream whose Read blocks until it is closed (a
// stalled HTTP body) or, if ignoreClose, until release is closed.
type blocking struct {
	ignoreClose bool
	closed      chan struct{}
	release     chan struct{}
	once        sync.Once
}

func newBlocking(ignoreClose bool) *blocking {
	return &blocking{ignoreClose: ignoreClose, closed: make(chan struct{}), release: make(chan struct{})}
}

func (b *blocking) Read([]byte) (int, error) {
	closed := b.closed
	if b.ignoreClose {
		closed = nil
	}
	select {
	case <-closed:
		return 0, io.ErrClosedPipe
	case <-b.release:
		return 0, io.EOF
	}
}

func (b *blocking) Close() error { b.once.Do(func() { close(b.closed) }); return nil }

// readCancelled reads rc in the background, cancels, and returns Read's
// error; the test fails if Read does not return.
func readCancelled(t *testing.T, rc io.Reader, cancel context.CancelFunc) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { _, err := rc.Read(make([]byte, 10)); done <- err }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Read still blocked after cancellation")
		return nil
	}
}

func oneStream(rc io.ReadCloser) *Response {
	streams, errs := make(chan io.ReadCloser, 1), make(chan error)
	streams <- rc
	close(streams)
	close(errs)
	return New(streams, errs, 1)
}

// A Read blocked in the source ends with the context's cause when ctx is
// cancelled, and the source's stream is closed, which ends its Read: no
// goroutine is left.
func TestReadEndsOnCancel(t *testing.T) {
	leakCheck(t)
	src := newBlocking(false)
	r := oneStream(src)
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := readCancelled(t, rc, cancel); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read: %v, want context.Canceled", err)
	}
	select {
	case <-src.closed:
	default:
		t.Error("the source's stream was not closed")
	}
	if _, err := rc.Read(make([]byte, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Read after cancel: %v", err)
	}
	_ = rc.Close()
	_ = rc.Close()
	r.Abandon()
}

// A Read that ignores Close still returns on cancellation; the pump stays
// blocked in the source until the source's Read returns, then exits.
func TestReadIgnoringCloseKeepsOnlyThePump(t *testing.T) {
	leakCheck(t)
	src := newBlocking(true)
	r := oneStream(src)
	ctx, cancel := context.WithCancel(context.Background())
	rc, _ := r.Next(ctx)
	if err := readCancelled(t, rc, cancel); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read: %v, want context.Canceled", err)
	}
	_ = rc.Close()
	close(src.release) // leakCheck then sees the pump gone
}

// Data flows through the pump unchanged, in reads of any size.
func TestPumpedReadsAll(t *testing.T) {
	leakCheck(t)
	want := strings.Repeat("0123456789", 20000) // > pumpBufSize
	r := oneStream(io.NopCloser(strings.NewReader(want)))
	rc, err := r.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	buf := make([]byte, 7)
	for {
		n, err := rc.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	_ = rc.Close()
	if got.String() != want {
		t.Errorf("read %d bytes, want %d", got.Len(), len(want))
	}
	if err := r.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A source that never closes its channels: Abandon returns at once, and
// the background drain ends with the lifetime attached to the context.
func TestDrainEndsWithLifetime(t *testing.T) {
	leakCheck(t)
	for _, finish := range []bool{false, true} {
		streams, errs := make(chan io.ReadCloser), make(chan error)
		life, end := context.WithCancel(context.Background())
		ctx, cancel := context.WithCancel(WithLifetime(context.Background(), life))
		r := New(streams, errs, 2)
		if finish {
			cancel()
			if err := r.Finish(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("Finish: %v", err)
			}
		} else {
			cancel()
			if _, err := r.Next(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("Next: %v", err)
			}
			r.Abandon()
		}
		end() // leakCheck: the drain goroutine is gone
	}
}
