package layer

import (
	"os/exec"
	"strings"
	"testing"
)

// The benchmark binaries generate their layers with internal/treegen; they
// must not link internal/testutil, which imports "testing" (its flags and
// init would land in every binary).
func TestBinariesDoNotLinkTesting(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "exclude_graphdriver_btrfs",
		"github.com/chunkdiff/chunkdiff/internal/bench/cmd/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "testing" || strings.HasSuffix(p, "/internal/testutil") {
			t.Errorf("a benchmark binary links %s", p)
		}
	}
}
