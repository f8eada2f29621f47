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

func TestMetadataPolicy(t *testing.T) {
	got, err := Limits{}.WithDefaults()
	if err != nil || got.MetadataPolicy != PolicyStream {
		t.Fatalf("default policy %q (%v), want %q", got.MetadataPolicy, err, PolicyStream)
	}
	if _, err := (Limits{MetadataPolicy: "sometimes"}).WithDefaults(); err == nil || !strings.Contains(err.Error(), `"sometimes"`) {
		t.Errorf("unknown policy: got %v, want an error naming it", err)
	}
	// Upstream refuses a TOC over MaxTOCSize; stream only over the disk bound.
	up, _ := Limits{MetadataPolicy: PolicyUpstream, MaxTOCSize: 100}.WithDefaults()
	st, _ := Limits{MetadataPolicy: PolicyStream, MaxTOCSize: 100}.WithDefaults()
	if up.MaxTOC() != 100 || st.MaxTOC() != DefaultMaxTarSplitSize {
		t.Errorf("MaxTOC: upstream %d, stream %d", up.MaxTOC(), st.MaxTOC())
	}
	if up.Streamed(101, 101) || !st.Streamed(50, 101) || st.Streamed(100, 100) {
		t.Errorf("Streamed: upstream never streams; stream streams only over MaxTOCSize")
	}
}
