package gate

import (
	"errors"
	"testing"
)

func TestNextEveryMove(t *testing.T) {
	from := append([]Status{StatusNew}, Statuses...)
	events := []Event{EventVerificationRequired, EventAutoApprove, EventAwaitReview, EventAwaitWebhooks,
		EventAllEligible, EventNotEligible, EventDeliveryFailed, EventReviewDeadline, EventApprove, EventDeny, EventRetryPreApproval}
	// allowed is the lifecycle table (docs/lifecycle.md) written out independently of transitions.
	allowed := map[Status]map[Event]Status{
		StatusNew: {EventVerificationRequired: StatusIdentityUnverified, EventAutoApprove: StatusApproved,
			EventAwaitReview: StatusPending, EventAwaitWebhooks: StatusAwaitingPreApproval},
		StatusIdentityUnverified: {EventAutoApprove: StatusApproved, EventAwaitReview: StatusPending,
			EventAwaitWebhooks: StatusAwaitingPreApproval},
		StatusAwaitingPreApproval: {EventAllEligible: StatusApproved, EventNotEligible: StatusPreApprovalNotEligible,
			EventDeliveryFailed: StatusPending, EventReviewDeadline: StatusPending,
			EventApprove: StatusApproved, EventDeny: StatusDenied},
		StatusPending: {EventAllEligible: StatusApproved, EventNotEligible: StatusPreApprovalNotEligible,
			EventApprove: StatusApproved, EventDeny: StatusDenied, EventRetryPreApproval: StatusAwaitingPreApproval},
		StatusPreApprovalNotEligible: {EventApprove: StatusApproved, EventDeny: StatusDenied},
	}
	n := 0
	for _, f := range from {
		for _, ev := range events {
			want, ok := allowed[f][ev]
			got, err := Next(f, ev)
			if ok {
				n++
				if err != nil || got != want {
					t.Errorf("Next(%q, %q) = %q, %v; want %q", f, ev, got, err, want)
				}
				continue
			}
			var te *TransitionError
			if !errors.As(err, &te) || got != f {
				t.Errorf("Next(%q, %q) = %q, %v; want a TransitionError and no move", f, ev, got, err)
			}
		}
	}
	if n != len(transitions) {
		t.Errorf("table has %d moves, the test expects %d", len(transitions), n)
	}
}

func TestDecidedRequestsNeverMove(t *testing.T) {
	for _, st := range []Status{StatusApproved, StatusDenied} {
		for m := range transitions {
			if m.from == st {
				t.Errorf("%q has an outgoing move on %q", st, m.ev)
			}
		}
	}
}

func TestParseStatus(t *testing.T) {
	for _, s := range Statuses {
		if got, ok := ParseStatus(string(s)); !ok || got != s {
			t.Errorf("ParseStatus(%q) = %q, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "APPROVED", "new", "approved "} {
		if _, ok := ParseStatus(s); ok {
			t.Errorf("ParseStatus(%q) accepted", s)
		}
	}
}
