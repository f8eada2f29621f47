package differ

import (
	"context"
	"strings"
	"testing"
)

type textBuffer struct{ strings.Builder }

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}
