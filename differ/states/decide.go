package states

// Decision is what to do when a partial pull is impossible.
type Decision struct {
	Event Event // FallBack, PlanConvert or Fail
	// Reason to record on the transition.
	Reason Reason
}

// Decide applies upstream's rule (docs/BEHAVIOUR.md, "Decision matrix") to a reason why a partial pull
// cannot happen:
//   - without convert_images, every such reason is a fallback to an ordinary
//     pull;
//   - with convert_images, reasons that conversion can overcome become a
//     local conversion, and the others are hard errors: the configuration
//     promised a chunked layer and neither a partial pull nor a conversion
//     can deliver one.
//
// The one exception is CodePartialDisabled, which stays a fallback even with
// convert_images (upstream allows it; the two options disagree).
func Decide(r Reason, convertImages bool) Decision {
	switch {
	case !convertImages, r.Code == CodePartialDisabled:
		return Decision{Event: FallBack, Reason: r}
	case r.Code.CanConvert():
		return Decision{Event: PlanConvert, Reason: r}
	default:
		return Decision{Event: Fail, Reason: r}
	}
}
