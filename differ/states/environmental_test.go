package states

import "testing"

// Environmental reasons are fallbacks whatever convert_images says: an
// ordinary pull works on this host and store, a conversion would not.
func TestEnvironmentalReasonsAlwaysFallBack(t *testing.T) {
	for c := CodeNone; c < numCodes; c++ {
		for _, convert := range []bool{false, true} {
			got := Decide(Reason{Code: c}, convert).Event
			switch {
			case !convert || c.Environmental():
				if got != FallBack {
					t.Errorf("%s, convert_images=%v: %s, want %s", c, convert, got, FallBack)
				}
			case c.CanConvert():
				if got != PlanConvert {
					t.Errorf("%s, convert_images=%v: %s, want %s", c, convert, got, PlanConvert)
				}
			default:
				if got != Fail {
					t.Errorf("%s, convert_images=%v: %s, want %s", c, convert, got, Fail)
				}
			}
		}
	}
	for _, c := range []Code{CodeComposefsStore, CodeHostUnsupported, CodePartialDisabled} {
		if !c.Environmental() || c.CanConvert() {
			t.Errorf("%s must be environmental and not convertible", c)
		}
		if c.String() == "" {
			t.Errorf("code %d has no name", int(c))
		}
	}
}
