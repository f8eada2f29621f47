package differ

import (
	"strconv"
	"strings"

	"github.com/chunkdiff/chunkdiff/differ/states"
	"github.com/chunkdiff/chunkdiff/internal/apply"
)

// hostSupported is apply.Supported; tests replace it to drive the fallback
// of a kernel without openat2.
var hostSupported = apply.Supported

// hostReason says why this host cannot apply a partial pull, if it cannot.
func hostReason() (states.Reason, bool) {
	if err := hostSupported(); err != nil {
		return states.Because(states.CodeHostUnsupported, "%v", err), true
	}
	return states.Reason{}, false
}

// usesComposefs reports whether an overlay store's options enable composefs
// ("use_composefs", optionally prefixed "overlay." or "overlay2.", parsed as
// the driver parses it). Such a store's ApplyStagedLayer needs the TOC in
// upstream's internal type, which no other differ can provide.
func usesComposefs(driverName string, graphOptions []string) bool {
	if driverName != "overlay" && driverName != "overlay2" {
		return false
	}
	on := false
	for _, o := range graphOptions {
		key, val, ok := strings.Cut(o, "=")
		if !ok {
			continue
		}
		key = strings.ToLower(strings.TrimSpace(key))
		if drv, name, found := strings.Cut(key, "."); found {
			if drv != "" && drv != "overlay" && drv != "overlay2" {
				continue
			}
			key = name
		}
		if key == "use_composefs" {
			on, _ = strconv.ParseBool(strings.TrimSpace(val)) // the driver rejects bad values itself
		}
	}
	return on
}
