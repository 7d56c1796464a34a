package main

import "fmt"

// Observed is what the checker learnt about one accepted request.
type Observed struct {
	Found     bool
	Status    string
	States    map[string]string // webhook key -> delivery/reply state
	Decisions int               // "approved" and "denied" timeline entries
	Messages  int               // approved-queue messages for it
	Accepted  map[string]Answer // replies the gate answered 200, by webhook key
	Unsure    bool              // a reply that never got a 200 or a 4xx
}

// Verdict is how one request counts (see docs/soak.md).
type Verdict struct {
	Lost, DoubleDecided, Stuck bool
	Why                        string
}

// classify holds one request to what its validators' accepted replies
// promise. hooks are the configured webhook keys.
func classify(o Observed, hooks []string) Verdict {
	if !o.Found {
		return Verdict{Lost: true, Why: "request missing"}
	}
	v := Verdict{DoubleDecided: o.Decisions > 1 || o.Messages > 1}
	if v.DoubleDecided {
		v.Why = fmt.Sprintf("%d decision entries, %d approved messages", o.Decisions, o.Messages)
	}
	lost := func(format string, args ...any) Verdict {
		v.Lost = true
		if v.Why != "" {
			v.Why += "; "
		}
		v.Why += fmt.Sprintf(format, args...)
		return v
	}
	if o.Unsure {
		return lost("a reply got no answer")
	}
	eligible, notEligible := 0, 0
	for _, k := range hooks {
		switch o.Accepted[k] {
		case Eligible:
			eligible++
			if o.States[k] != "eligible" {
				return lost("accepted eligible reply of %s not kept (state %s)", k, o.States[k])
			}
		case NotEligible:
			notEligible++
			if o.States[k] != "not_eligible" {
				return lost("accepted not-eligible reply of %s not kept (state %s)", k, o.States[k])
			}
		}
	}
	switch {
	case notEligible > 0:
		if o.Status != "pre_approval_not_eligible" || o.Messages != 0 || o.Decisions != 0 {
			return lost("a webhook replied not eligible, yet status %s with %d messages", o.Status, o.Messages)
		}
	case eligible == len(hooks):
		// More than one message or decision is double_decided, above.
		if o.Status != "approved" || o.Messages == 0 || o.Decisions == 0 {
			return lost("every webhook replied eligible, yet status %s with %d messages", o.Status, o.Messages)
		}
	default:
		// Some validator never answered: the request waits for an admin,
		// awaiting (every delivery made) or pending (one failed for good).
		undelivered, failed := 0, 0
		for _, k := range hooks {
			switch o.States[k] {
			case "pending", "":
				undelivered++
			case "failed":
				failed++
			}
		}
		switch {
		case o.Messages != 0 || o.Decisions != 0:
			return lost("decided (%s) without every webhook eligible", o.Status)
		case undelivered > 0:
			return lost("%d deliveries never made or failed (status %s)", undelivered, o.Status)
		case o.Status == "awaiting_pre_approval" && failed == 0, o.Status == "pending" && failed > 0:
			v.Stuck = true
		default:
			return lost("status %s with %d failed deliveries", o.Status, failed)
		}
	}
	return v
}
