package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// progressFlags control the progress line on stderr: shown on a terminal,
// or anywhere with --progress.
type progressFlags struct {
	progress bool
}

func (p *progressFlags) registerProgress(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&p.progress, "progress", false, "print progress to stderr even when it is not a terminal (on a terminal it always is)")
}

// start prints status() once a second until the returned func is called.
func (p *progressFlags) start(w io.Writer, status func() string) func() {
	tty := isTerminal(w)
	if !tty && !p.progress {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				if tty {
					_, _ = fmt.Fprint(w, "\r\033[K") // the summary follows on stdout
				}
				return
			case <-t.C:
				line := status()
				if tty {
					_, _ = fmt.Fprint(w, "\r\033[K"+line)
				} else {
					_, _ = fmt.Fprintln(w, line)
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
