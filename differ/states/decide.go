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
// The exceptions are environmental reasons (Code.Environmental), which stay
// fallbacks even with convert_images: partial pulls disabled (upstream does
// the same; the two options disagree), and a store or host that cannot take
// a partial pull at all, where an ordinary download still works.
func Decide(r Reason, convertImages bool) Decision {
	switch {
	case !convertImages, r.Code.Environmental():
		return Decision{Event: FallBack, Reason: r}
	case r.Code.CanConvert():
		return Decision{Event: PlanConvert, Reason: r}
	default:
		return Decision{Event: Fail, Reason: r}
	}
}
