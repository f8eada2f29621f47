package differ

import (
	"fmt"

	"github.com/chunkdiff/chunkdiff/differ/states"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
)

// ApplyDiff materialises the layer under dest. Until the apply path lands it
// fails clearly (and terminally) in the states where it would work, and
// refuses in the others.
func (d *Differ) ApplyDiff(dest string, options *archive.TarOptions, differOpts *graphdriver.DifferOptions) (graphdriver.DriverWithDifferOutput, error) {
	out := graphdriver.DriverWithDifferOutput{Differ: d}
	switch p := d.current().(type) {
	case metadataLoaded, convertPending:
		return out, d.fail(ErrNotImplemented)
	case applied:
		return out, ErrUsed
	default:
		return out, fmt.Errorf("chunkdiff: ApplyDiff in state %q: %w", p.state(), &states.IllegalEventError{State: p.state(), Event: states.Prepare})
	}
}
