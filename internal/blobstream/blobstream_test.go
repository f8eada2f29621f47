package blobstream

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// producer plays a GetBlobAt producer: script runs in its own goroutine,
// then both channels are closed (the stream channel first, as
// containers/image does). Every send blocks until the consumer takes it.
type producer struct {
	streams       chan io.ReadCloser
	errs          chan error
	sent, closed  atomic.Int32
	streamsClosed bool
}

func (p *producer) send(s string) {
	p.sent.Add(1)
	p.streams <- &stream{Reader: strings.NewReader(s), p: p}
}

func (p *producer) sendNil()        { p.streams <- nil }
func (p *producer) fail(err error)  { p.errs <- err }
func (p *producer) endStreams()     { close(p.streams); p.streamsClosed = true }
func (p *producer) unclosed() int32 { return p.sent.Load() - p.closed.Load() }

type stream struct {
	io.Reader
	p    *producer
	done atomic.Bool
}

func (s *stream) Close() error {
	if s.done.CompareAndSwap(false, true) {
		s.p.closed.Add(1)
	}
	return nil
}

// start runs script as the producer of a response for want ranges. The
// test fails if goroutines started meanwhile outlive it, or if a stream
// sent was never closed.
func start(t *testing.T, want int, script func(p *producer)) (*Response, *producer) {
	t.Helper()
	leakCheck(t)
	p := &producer{streams: make(chan io.ReadCloser), errs: make(chan error)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		script(p)
		if !p.streamsClosed {
			close(p.streams)
		}
		close(p.errs)
	}()
	t.Cleanup(func() {
		<-done
		// Abandon drains in the background: give it a moment.
		for deadline := time.Now().Add(2 * time.Second); p.unclosed() != 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if n := p.unclosed(); n != 0 {
			t.Errorf("%d streams not closed", n)
		}
	})
	return New(p.streams, p.errs, want), p
}

// leakCheck fails the test if goroutines started during it are still
// running once it ends (after letting them settle).
func leakCheck(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

func read(t *testing.T, r *Response) string {
	t.Helper()
	rc, err := r.Next(context.Background())
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantErr(t *testing.T, err, target error, substr string) {
	t.Helper()
	if !errors.Is(err, target) || !strings.Contains(err.Error(), substr) {
		t.Fatalf("got %v, want %v containing %q", err, target, substr)
	}
}

var errBoom = errors.New("boom")

func TestStreamsInOrder(t *testing.T) {
	r, _ := start(t, 2, func(p *producer) { p.send("a"); p.send("b") })
	if got := read(t, r) + read(t, r); got != "ab" {
		t.Errorf("got %q", got)
	}
	if err := r.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.Want() != 2 {
		t.Errorf("Want() = %d", r.Want())
	}
}

func TestTooFewStreams(t *testing.T) {
	r, _ := start(t, 3, func(p *producer) { p.send("a") })
	read(t, r)
	_, err := r.Next(context.Background())
	wantErr(t, err, ErrTooFewStreams, "stream 2 of 3")
	if err := r.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestNoStreams(t *testing.T) {
	r, _ := start(t, 1, func(*producer) {})
	_, err := r.Next(context.Background())
	wantErr(t, err, ErrTooFewStreams, "stream 1 of 1")
	r.Abandon()
}

// An error sent after the stream channel ended explains the missing
// stream better than ErrTooFewStreams.
func TestPendingErrorPreferredToTooFew(t *testing.T) {
	r, _ := start(t, 2, func(p *producer) { p.send("a"); p.endStreams(); p.fail(errBoom) })
	read(t, r)
	_, err := r.Next(context.Background())
	wantErr(t, err, errBoom, "source error after 1 of 2 streams")
	if errors.Is(err, ErrTooFewStreams) {
		t.Errorf("got %v", err)
	}
	// Already returned: Finish does not report it again.
	if err := r.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTooManyStreams(t *testing.T) {
	r, p := start(t, 1, func(p *producer) { p.send("a"); p.send("surplus"); p.send("surplus") })
	read(t, r)
	_, err := r.Next(context.Background())
	wantErr(t, err, ErrTooManyStreams, "all 1 streams already taken")
	wantErr(t, r.Finish(context.Background()), ErrTooManyStreams, "more than 1")
	if p.sent.Load() != 3 {
		t.Errorf("%d streams sent", p.sent.Load())
	}
}

func TestNilStream(t *testing.T) {
	r, _ := start(t, 2, func(p *producer) { p.send("a"); p.sendNil() })
	read(t, r)
	_, err := r.Next(context.Background())
	wantErr(t, err, ErrNilStream, "stream 2 of 2")
	r.Abandon()
}

func TestErrorBeforeStream(t *testing.T) {
	r, _ := start(t, 2, func(p *producer) { p.fail(errBoom); p.send("late") })
	_, err := r.Next(context.Background())
	wantErr(t, err, errBoom, "source error after 0 of 2 streams")
	if err := r.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestErrorAfterLastStream(t *testing.T) {
	r, _ := start(t, 1, func(p *producer) { p.send("a"); p.fail(errBoom); p.fail(errors.New("second")) })
	read(t, r)
	err := r.Finish(context.Background())
	wantErr(t, err, errBoom, "source error after 1 of 1 streams")
}

func TestNilErrorsIgnored(t *testing.T) {
	r, _ := start(t, 1, func(p *producer) { p.fail(nil); p.send("a"); p.fail(nil) })
	if got := read(t, r); got != "a" {
		t.Errorf("got %q", got)
	}
	if err := r.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// The caller may stop early: Finish closes the streams not taken and
// reports nothing for them.
func TestFinishEarly(t *testing.T) {
	r, _ := start(t, 3, func(p *producer) { p.send("a"); p.send("b"); p.send("c") })
	read(t, r)
	if err := r.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Finish(context.Background()); err != nil {
		t.Fatalf("second Finish: %v", err)
	}
}

func TestAbandonIgnoresEverything(t *testing.T) {
	r, _ := start(t, 1, func(p *producer) { p.send("a"); p.send("surplus"); p.fail(errBoom) })
	r.Abandon()
	r.Abandon()
}

func TestNextCancelled(t *testing.T) {
	gate := make(chan struct{})
	r, _ := start(t, 1, func(p *producer) { <-gate; p.send("a") })
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("another worker failed")
	cancel(cause)
	if _, err := r.Next(ctx); !errors.Is(err, cause) {
		t.Fatalf("got %v", err)
	}
	close(gate)
	r.Abandon()
}

// A source stuck mid-response does not hold Finish once ctx is cancelled;
// the drain goes on in the background and ends with the producer.
func TestFinishCancelledDrainsInBackground(t *testing.T) {
	gate := make(chan struct{})
	r, _ := start(t, 1, func(p *producer) { p.send("a"); <-gate; p.send("surplus"); p.fail(errBoom) })
	read(t, r)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Finish(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if err := r.Finish(context.Background()); err != nil {
		t.Fatalf("Finish after the background drain took over: %v", err)
	}
	close(gate) // the producer ends; the cleanup checks its streams were closed
}
