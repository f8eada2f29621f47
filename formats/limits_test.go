package formats

import (
	"os/exec"
	"strings"
	"testing"
)

func TestLimitsZeroMeansDefault(t *testing.T) {
	got, err := Limits{}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if got != DefaultLimits() {
		t.Errorf("zero limits gave %+v, want the defaults %+v", got, DefaultLimits())
	}
	got, err = Limits{MaxTOCSize: 7, MaxTarSplitSize: 9}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if got.MaxTOCSize != 7 || got.MaxTarSplitSize != 9 || got.MaxRangesPerRequest != DefaultMaxRangesPerRequest {
		t.Errorf("set limits not kept: %+v", got)
	}
}

func TestLimitsNegativeIsInvalid(t *testing.T) {
	for name, l := range map[string]Limits{
		"MaxTOCSize":          {MaxTOCSize: -1},
		"MaxTarSplitSize":     {MaxTarSplitSize: -1},
		"MaxRangesPerRequest": {MaxRangesPerRequest: -1},
		"AutoMergeGap":        {AutoMergeGap: -1},
	} {
		if _, err := l.WithDefaults(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: got %v, want an error naming it", name, err)
		}
	}
}

// The parsers are pure: they must not link containers/storage (which brings
// mount, reexec, archive... into every binary that only parses a TOC).
func TestFormatsDoNotLinkStorage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "exclude_graphdriver_btrfs", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "go.podman.io/") {
			t.Errorf("formats depend on %s", p)
		}
	}
}
