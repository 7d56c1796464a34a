package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Validated is what one validator did about one request.
type Validated struct {
	Called   bool        // it was called at least once
	CalledAt time.Time   // its first call
	Verdict  Answer      // fixed at the first call
	Silent   bool        // it never replies to this request
	Replied  bool        // it began sending a reply
	Accepted Answer      // the reply the gate answered 2xx ("" when none)
	Refused  []Refusal   // replies the gate refused for good (a 4xx the SDK does not retry)
	Unsure   []Span      // replies that never got a definite answer: they may or may not be kept
	Failed   []time.Time // calls it answered 500 or too late
}

// Entry is a timeline entry.
type Entry struct {
	At      time.Time
	Message string
}

// SurfacedFault is an injected fault about one request that reached the
// gate's code: the SDK's retries did not absorb it.
type SurfacedFault struct {
	At time.Time
	// Webhooks are the webhooks the faulted call named; none when it named
	// no webhook (a call about the whole request).
	Webhooks []string
}

// Observed is what the checker learnt about one accepted request.
type Observed struct {
	Found          bool
	Status         string
	Created        time.Time         // created_at
	ReviewDeadline time.Duration     // the gate's REVIEW_DEADLINE
	States         map[string]string // the request's webhooks (its snapshot): key -> delivery/reply state
	Decisions      int               // "approved" and "denied" timeline entries
	Messages       int               // approved-queue messages for it
	Actions        map[string]int    // timeline entries by action
	// Deadline is when a status_changed entry says the review deadline
	// moved it to pending (zero when none did).
	Deadline time.Time
	// Closed is the first entry that took it out of pending and
	// awaiting_pre_approval (approved, denied, flagged); Approved the
	// approval's entry. Zero when none.
	Closed, Approved time.Time
	// Failures are the pre_approval_webhook_failed entries, by webhook key.
	Failures  map[string]Entry
	Validated map[string]Validated
	// Faults are the injected faults on calls about this request that the
	// SDK did not absorb.
	Faults []SurfacedFault
	// Removed are the webhooks removed from the configuration, with when
	// their removal began.
	Removed map[string]time.Time
	// Dropped are the deliveries the dispatcher dropped because their
	// webhook was no longer configured, with when (its log says so).
	Dropped map[string]time.Time
	// Unusable are the spans in which a webhook's connection had no usable
	// secrets (To zero: until the end).
	Unusable map[string][]Span
	// Stranded: the dispatcher was stopped while it could hold this
	// request's deliveries, which then come back after the review deadline.
	Stranded bool
	// LastHandled is the latest of its validators' first calls and of the
	// gate's records of its deliveries (called or failed entries; zero:
	// none): its deliveries were still being handled then. A batch records
	// its deliveries when its last call ends, so under load the record may
	// come long after the first calls.
	LastHandled time.Time
	// Timeline is the activity, for the run's examples.
	Timeline string
}

// Verdict is how one request counts (see docs/internals/soak.md).
type Verdict struct {
	Lost, DoubleDecided, Stuck, Unexplained bool
	// ShouldApprove: every validator of its snapshot (but removed webhooks)
	// replied eligible and no reply was left without an answer, so the gate
	// should have approved it.
	ShouldApprove bool
	Why           string
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

// Slack of the time windows the checker holds excuses to.
const (
	// secretsCacheSlack: after a connection's secrets are put back, the
	// dispatcher may still hold what it found while they were unusable
	// (DISPATCH_CONFIG_TTL) and be finishing the batch (its other calls,
	// each up to WEBHOOK_TIMEOUT) before it records the failure, on a
	// loaded machine.
	secretsCacheSlack = 30 * time.Second
	// batchSpread: the deliveries of one request, sent in one batch, are
	// received within this of each other.
	batchSpread = 10 * time.Second
)

// classify holds one request to what its validators did, the faults
// injected into it and the configuration changes of the run. The rules:
//   - lost: missing; an accepted reply not kept in its webhook's state; an
//     approval without its approved-queue message;
//   - double_decided: more than one decision entry or approved message;
//   - stuck: still awaiting_pre_approval, a status that waits on the system;
//   - unexplained: any other end that what the validators did, the faults and
//     the configuration changes do not account for. Each excuse is held to
//     its own webhook and its own time: a fault excuses only a failure on
//     the request's own call, after it was submitted and before the failure
//     was recorded, and only when the SDK did not absorb it.
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
	v.ShouldApprove = len(keys) > 0
	for _, k := range keys {
		st, val := o.States[k], o.Validated[k]
		switch {
		case val.Accepted == Eligible && st != stEligible, val.Accepted == NotEligible && st != stNotEligible:
			v.Lost = true
			why("accepted %s reply of %s not kept (state %s)", val.Accepted, k, st)
		case (st == stEligible || st == stNotEligible) && replyOf(st) != val.Verdict:
			v.Unexplained = true
			why("%s shows %s, its validator said %s", k, st, val.Verdict)
		case (st == stEligible || st == stNotEligible) && val.Accepted == "" && len(val.Unsure) == 0:
			v.Unexplained = true
			why("%s shows %s, yet no reply of its validator was accepted", k, st)
		}
		for _, r := range val.Refused {
			if !o.refusalJustified(k, r) {
				v.Unexplained = true
				why("a reply of %s was refused with HTTP %d (%s) when it should have got through", k, r.Status, r.Detail)
			}
		}
		kept := (st == stEligible || st == stNotEligible) && replyOf(st) == val.Verdict
		for _, s := range val.Unsure {
			// Kept, it was only answered too late (a loaded emulator); not
			// kept, a fault must have stopped it.
			if !kept && !o.faultIn(s.From, s.To, "") {
				v.Unexplained = true
				why("a reply of %s never got a definite answer nor was kept, and no fault touched the request then", k)
			}
		}
		if st == stNotEligible {
			notEligible = append(notEligible, k)
		}
		if _, gone := o.Removed[k]; st != stEligible && !gone {
			allEligible = false
		}
		_, gone := o.Removed[k]
		switch {
		case !gone && (val.Verdict != Eligible || val.Silent || !val.Replied || len(val.Unsure) > 0 && !kept):
			v.ShouldApprove = false
		case gone && val.Replied && val.Verdict == NotEligible: // it may have flagged the request before its removal
			v.ShouldApprove = false
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
	deadlinePassed := false
	if !o.Deadline.IsZero() {
		due := o.Created.Add(o.ReviewDeadline)
		if deadlinePassed = !o.Deadline.Before(due); !deadlinePassed {
			v.Unexplained = true
			why("moved to pending for its review deadline at %s, before the deadline's time %s", o.Deadline.Format(time.RFC3339Nano), due.Format(time.RFC3339Nano))
		}
	}
	if v.ShouldApprove && o.Status != "approved" {
		v.Unexplained = true
		why("every validator replied eligible, yet status %s", o.Status)
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
			removedAt, gone := o.Removed[k]
			switch {
			case !gone:
				v.Unexplained = true
				why("approved without %s (state %s)", k, o.States[k])
			case o.Approved.Before(removedAt):
				v.Unexplained = true
				why("approved without %s before its removal", k)
			case o.Actions["pre_approval_webhook_removed"] == 0:
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
				if !o.failureExplained(k) {
					v.Unexplained = true
					why("delivery to %s failed, yet neither its validator, its connection nor a fault on its call failed it in time", k)
				}
			case stEligible, stNotEligible, stCalled:
			default: // never delivered
				if !o.removedBeforeHandling(k) && !o.unusableWhileDue(k) && !(deadlinePassed && o.Stranded) {
					v.Unexplained = true
					why("no delivery to %s recorded (state %q)", k, o.States[k])
				}
			}
		}
		if failed == 0 && !deadlinePassed {
			v.Unexplained = true
			why("pending without a failed delivery or a passed review deadline")
		}
	default:
		v.Unexplained = true
		why("status %q", o.Status)
	}
	return v
}

// refusalJustified says whether the gate was right to refuse a reply of k
// for good: the request had already left the statuses that take replies
// (400), or k had been removed from the configuration (404).
func (o Observed) refusalJustified(k string, r Refusal) bool {
	switch r.Status {
	case 400:
		return !o.Closed.IsZero() && !r.At.Before(o.Closed)
	case 404:
		removedAt, gone := o.Removed[k]
		return gone && !r.At.Before(removedAt)
	}
	return false
}

// faultIn says whether a fault the SDK did not absorb hit a call about the
// request within [from, to], on a call naming webhook k or no webhook ("":
// any call).
func (o Observed) faultIn(from, to time.Time, k string) bool {
	for _, f := range o.Faults {
		if f.At.Before(from) || f.At.After(to) {
			continue
		}
		if k == "" || len(f.Webhooks) == 0 || slices.Contains(f.Webhooks, k) {
			return true
		}
	}
	return false
}

// failureExplained says whether k's failed delivery has a cause recorded
// before the failure: its validator failed a call about the request, its
// connection was unusable then, or a fault hit the request's own call.
func (o Observed) failureExplained(k string) bool {
	at := time.Now() // without its entry, any time up to the check
	if e, ok := o.Failures[k]; ok {
		at = e.At
	}
	for _, f := range o.Validated[k].Failed {
		if !f.After(at) {
			return true
		}
	}
	for _, s := range o.Unusable[k] {
		if !at.Before(s.From) && (s.To.IsZero() || !at.After(s.To.Add(secretsCacheSlack))) {
			return true
		}
	}
	return o.faultIn(o.Created, at, k)
}

// removedBeforeHandling says whether k was removed before the request's
// deliveries were all handled, so that its delivery was rightly dropped:
// another webhook's delivery was being handled no earlier than batchSpread
// before the removal began (or no call came at all).
func (o Observed) removedBeforeHandling(k string) bool {
	removedAt, gone := o.Removed[k]
	if !gone {
		return false
	}
	if droppedAt, ok := o.Dropped[k]; ok && !droppedAt.Before(removedAt) {
		return true // the dispatcher dropped it after the removal began
	}
	return o.LastHandled.IsZero() || !o.LastHandled.Before(removedAt.Add(-batchSpread))
}

// unusableWhileDue says whether k's connection became unusable while the
// request's delivery to it was due (before its review deadline) and stayed
// so at least until the request was submitted.
func (o Observed) unusableWhileDue(k string) bool {
	for _, s := range o.Unusable[k] {
		if !s.From.After(o.Created.Add(o.ReviewDeadline)) && (s.To.IsZero() || !s.To.Before(o.Created)) {
			return true
		}
	}
	return false
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
