package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, as documented in the root command's help.
const (
	exitFailed      = 1 // the work failed
	exitUsage       = 2 // the command line was wrong; nothing was done
	exitInterrupted = 128
)

// usageError is a bad command line, caught before any work.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// interruptedError is the cause of a context cancelled by a signal.
type interruptedError struct{ sig syscall.Signal }

func (e *interruptedError) Error() string {
	name := map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM"}[e.sig]
	return "interrupted by " + name
}

// interruptContext is cancelled on the first SIGINT or SIGTERM, with an
// *interruptedError as its cause; the work then fails through the context
// and cleans up. A second signal kills the process at once.
func interruptContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			signal.Stop(ch)
			cancel(&interruptedError{s.(syscall.Signal)})
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel(nil) }
}

// report prints err once and returns the exit code.
func report(ctx context.Context, err error) int {
	if err == nil {
		return 0
	}
	var ie *interruptedError
	if errors.As(context.Cause(ctx), &ie) {
		var ce cleanupError
		if errors.As(err, &ce) {
			fmt.Fprintf(os.Stderr, "chunkdiff: %s; %s\n", ie, ce)
		} else {
			fmt.Fprintf(os.Stderr, "chunkdiff: %s; removed what it had written\n", ie)
		}
		return exitInterrupted + int(ie.sig)
	}
	fmt.Fprintln(os.Stderr, "chunkdiff:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailed
}

// cleanupError is a failure to remove what a failed command had written.
type cleanupError struct{ err error }

func (e cleanupError) Error() string { return "cleaning up: " + e.err.Error() }
func (e cleanupError) Unwrap() error { return e.err }
