package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Validated is what one validator did about one request.
type Validated struct {
	Called   bool   // it was called at least once
	Verdict  Answer // fixed at the first call
	Silent   bool   // it never replies to this request
	Accepted Answer // the reply the gate answered 200 ("" when none)
	Unsure   bool   // a reply never got a 200 or a 4xx: it may or may not be kept
	Failed   int    // calls it answered 500 or too late
}

// Observed is what the checker learnt about one accepted request.
type Observed struct {
	Found     bool
	Status    string
	States    map[string]string // the request's webhooks (its snapshot): key -> delivery/reply state
	Decisions int               // "approved" and "denied" timeline entries
	Messages  int               // approved-queue messages for it
	Actions   map[string]int    // timeline entries by action
	Deadline  bool              // a status_changed entry says the review deadline passed
	Validated map[string]Validated
	// Faulted: a fault was injected into a call about this request.
	Faulted bool
	// Removed are the webhooks no longer configured at the end; Broken
	// those whose connection had no secrets, or secrets that could not be
	// opened, while this request could be delivered.
	Removed, Broken map[string]bool
	// Stranded: the dispatcher was stopped while it could hold this
	// request's deliveries, which then come back after the review deadline.
	Stranded bool
	// Timeline is the activity, for the run's examples.
	Timeline string
}

// Verdict is how one request counts (see docs/internals/soak.md).
type Verdict struct {
	Lost, DoubleDecided, Stuck, Unexplained bool
	Why                                     string
	// Rules are the rules the request broke, as their message patterns
	// (the run counts requests by them).
	Rules []string
}

// state values a webhook of a request can show.
const (
	stEligible    = "eligible"
	stNotEligible = "not_eligible"
	stFailed      = "failed"
	stCalled      = "called"
)

// classify holds one request to what its validators did, the faults
// injected into it and the configuration changes of the run. The rules:
//   - lost: missing; an accepted reply not kept in its webhook's state; an
//     approval without its approved-queue message;
//   - double_decided: more than one decision entry or approved message;
//   - stuck: still awaiting_pre_approval, a status that waits on the system;
//   - unexplained: any other end that what the validators did, the faults and
//     the configuration changes do not account for.
func classify(o Observed) Verdict {
	if !o.Found {
		return Verdict{Lost: true, Why: "request missing"}
	}
	var v Verdict
	why := func(format string, args ...any) {
		if v.Why != "" {
			v.Why += "; "
		}
		v.Why += fmt.Sprintf(format, args...)
		if !slices.Contains(v.Rules, format) { // each rule once per request
			v.Rules = append(v.Rules, format)
		}
	}
	if o.Decisions > 1 || o.Messages > 1 {
		v.DoubleDecided = true
		why("%d decision entries, %d approved messages", o.Decisions, o.Messages)
	}
	keys := make([]string, 0, len(o.States))
	for k := range o.States {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	allEligible, notEligible := true, []string{}
	for _, k := range keys {
		st, val := o.States[k], o.Validated[k]
		switch {
		case val.Accepted == Eligible && st != stEligible, val.Accepted == NotEligible && st != stNotEligible:
			v.Lost = true
			why("accepted %s reply of %s not kept (state %s)", val.Accepted, k, st)
		case (st == stEligible || st == stNotEligible) && replyOf(st) != val.Verdict:
			v.Unexplained = true
			why("%s shows %s, its validator said %s", k, st, val.Verdict)
		case (st == stEligible || st == stNotEligible) && val.Accepted == "" && !val.Unsure:
			v.Unexplained = true
			why("%s shows %s, yet no reply of its validator was accepted", k, st)
		}
		if st == stNotEligible {
			notEligible = append(notEligible, k)
		}
		if st != stEligible && !o.Removed[k] {
			allEligible = false
		}
	}
	if o.Status == "approved" && o.Messages == 0 {
		v.Lost = true
		why("approved, never published")
	}
	if o.Decisions > 0 && o.Status != "approved" && o.Status != "denied" {
		v.Unexplained = true
		why("a decision entry, yet status %s", o.Status)
	}

	switch o.Status {
	case "awaiting_pre_approval":
		v.Stuck = true
		why("still awaiting_pre_approval (%s)", states(o, keys))
	case "approved":
		if len(notEligible) > 0 {
			v.Unexplained = true
			why("approved although %v replied not eligible", notEligible)
		}
		for _, k := range keys {
			if o.States[k] == stEligible {
				continue
			}
			if !o.Removed[k] {
				v.Unexplained = true
				why("approved without %s (state %s)", k, o.States[k])
			} else if o.Actions["pre_approval_webhook_removed"] == 0 {
				v.Unexplained = true
				why("approved without removed %s, and no pre_approval_webhook_removed entry", k)
			}
		}
	case "pre_approval_not_eligible":
		if len(notEligible) == 0 {
			v.Unexplained = true
			why("not eligible, yet no webhook shows not_eligible (%s)", states(o, keys))
		}
	case "pending":
		if len(notEligible) > 0 {
			v.Unexplained = true
			why("pending although %v replied not eligible", notEligible)
		}
		if allEligible {
			v.Unexplained = true
			why("pending although every configured webhook replied eligible")
		}
		failed := 0
		for _, k := range keys {
			switch o.States[k] {
			case stFailed:
				failed++
				if o.Validated[k].Failed == 0 && !o.Broken[k] && !o.Faulted {
					v.Unexplained = true
					why("delivery to %s failed, yet its validator failed no call, its connection was sound and no fault touched the request", k)
				}
			case stEligible, stNotEligible, stCalled:
			default: // never delivered
				if !o.Removed[k] && !o.Broken[k] && !(o.Deadline && o.Stranded) {
					v.Unexplained = true
					why("no delivery to %s recorded (state %q)", k, o.States[k])
				}
			}
		}
		if failed == 0 && !o.Deadline {
			v.Unexplained = true
			why("pending without a failed delivery or a passed review deadline")
		}
	default:
		v.Unexplained = true
		why("status %q", o.Status)
	}
	return v
}

func replyOf(state string) Answer {
	if state == stNotEligible {
		return NotEligible
	}
	return Eligible
}

func states(o Observed, keys []string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + o.States[k]
	}
	return strings.Join(parts, " ")
}
