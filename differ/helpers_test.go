package differ

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

type textBuffer struct{ strings.Builder }

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
