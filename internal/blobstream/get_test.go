package blobstream

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"go.podman.io/storage/pkg/chunked"
)

// slowSource answers GetBlobAt once answer is closed.
type slowSource struct {
	answer chan struct{}
	err    error
	closed chan struct{}
}

func (s *slowSource) GetBlobAt(r []chunked.ImageSourceChunk) (chan io.ReadCloser, chan error, error) {
	<-s.answer
	if s.err != nil {
		return nil, nil, s.err
	}
	streams, errs := make(chan io.ReadCloser), make(chan error)
	go func() {
		st := &stream{Reader: strings.NewReader("late"), p: &producer{}}
		streams <- st
		close(streams)
		close(errs)
		close(s.closed)
	}()
	return streams, errs, nil
}

// A GetBlobAt that does not answer ends with ctx; its late answer is
// drained (the producer finishes) and nothing is left.
func TestGetEndsWithContext(t *testing.T) {
	leakCheck(t)
	src := &slowSource{answer: make(chan struct{}), closed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	if _, err := Get(ctx, src, make([]chunked.ImageSourceChunk, 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get: %v, want context.Canceled", err)
	}
	close(src.answer)
	select {
	case <-src.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the late answer was not drained")
	}
}

// The source's own error comes back as it is.
func TestGetReturnsSourceErrors(t *testing.T) {
	leakCheck(t)
	src := &slowSource{answer: make(chan struct{}), err: chunked.ErrBadRequest{}}
	close(src.answer)
	_, err := Get(context.Background(), src, make([]chunked.ImageSourceChunk, 2))
	var bad chunked.ErrBadRequest
	if !errors.As(err, &bad) {
		t.Fatalf("Get: %v, want ErrBadRequest", err)
	}
}
