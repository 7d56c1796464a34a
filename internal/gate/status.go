package gate

import "fmt"

// Status is where a privacy request stands (the string values are Fides').
type Status string

// The statuses of docs/lifecycle.md. StatusNew is the state before the first write.
const (
	StatusNew                    Status = ""
	StatusIdentityUnverified     Status = "identity_unverified"
	StatusPending                Status = "pending"
	StatusAwaitingPreApproval    Status = "awaiting_pre_approval"
	StatusPreApprovalNotEligible Status = "pre_approval_not_eligible"
	StatusApproved               Status = "approved"
	StatusDenied                 Status = "denied"
	StatusInProcessing           Status = "in_processing"
	StatusComplete               Status = "complete"
	StatusCanceled               Status = "canceled"
	StatusError                  Status = "error"
)

// Statuses lists every valid status (for validating filters).
var Statuses = []Status{
	StatusIdentityUnverified, StatusPending, StatusAwaitingPreApproval, StatusPreApprovalNotEligible,
	StatusApproved, StatusDenied, StatusInProcessing, StatusComplete, StatusCanceled, StatusError,
}

// Open reports whether a request of this status still waits for
// something before it can be executed, so that its due date concerns it.
// Approved, denied, canceled, in-processing and complete requests are
// decided: none of them moves back.
func (s Status) Open() bool {
	switch s {
	case StatusApproved, StatusDenied, StatusCanceled, StatusComplete, StatusInProcessing:
		return false
	}
	return true
}

// ParseStatus accepts exactly the values of Statuses.
func ParseStatus(s string) (Status, bool) {
	for _, st := range Statuses {
		if string(st) == s {
			return st, true
		}
	}
	return "", false
}

// Event is what happens to a request.
type Event string

// The events of the lifecycle table (docs/lifecycle.md).
const (
	EventVerificationRequired Event = "verification_required" // submitted, identity verification required
	EventAutoApprove          Event = "auto_approve"          // submitted/verified, no manual approval needed
	EventAwaitReview          Event = "await_review"          // submitted/verified, manual approval, no webhooks
	EventAwaitWebhooks        Event = "await_webhooks"        // submitted/verified, manual approval, >= 1 webhook
	EventAllEligible          Event = "all_eligible"          // every webhook of the snapshot replied eligible
	EventNotEligible          Event = "not_eligible"          // a webhook replied not eligible
	EventDeliveryFailed       Event = "delivery_failed"       // a webhook's delivery failed for good
	EventReviewDeadline       Event = "review_deadline"       // (beyond) REVIEW_DEADLINE passed while awaiting
	EventApprove              Event = "approve"               // admin approves
	EventDeny                 Event = "deny"                  // admin denies
	EventRetryPreApproval     Event = "retry_pre_approval"    // (beyond) admin re-runs pre-approval
)

type move struct {
	from Status
	ev   Event
}

// transitions is the lifecycle table (docs/lifecycle.md), one row per allowed move.
var transitions = map[move]Status{
	{StatusNew, EventVerificationRequired}: StatusIdentityUnverified,

	{StatusNew, EventAutoApprove}:                StatusApproved,
	{StatusIdentityUnverified, EventAutoApprove}: StatusApproved,

	{StatusNew, EventAwaitReview}:                StatusPending,
	{StatusIdentityUnverified, EventAwaitReview}: StatusPending,

	{StatusNew, EventAwaitWebhooks}:                StatusAwaitingPreApproval,
	{StatusIdentityUnverified, EventAwaitWebhooks}: StatusAwaitingPreApproval,

	{StatusAwaitingPreApproval, EventAllEligible}: StatusApproved,
	{StatusPending, EventAllEligible}:             StatusApproved,

	{StatusAwaitingPreApproval, EventNotEligible}: StatusPreApprovalNotEligible,
	{StatusPending, EventNotEligible}:             StatusPreApprovalNotEligible,

	{StatusAwaitingPreApproval, EventDeliveryFailed}: StatusPending,
	{StatusAwaitingPreApproval, EventReviewDeadline}: StatusPending,

	{StatusPending, EventApprove}:                StatusApproved,
	{StatusAwaitingPreApproval, EventApprove}:    StatusApproved,
	{StatusPreApprovalNotEligible, EventApprove}: StatusApproved,

	{StatusPending, EventDeny}:                StatusDenied,
	{StatusAwaitingPreApproval, EventDeny}:    StatusDenied,
	{StatusPreApprovalNotEligible, EventDeny}: StatusDenied,

	{StatusPending, EventRetryPreApproval}: StatusAwaitingPreApproval,
}

// TransitionError is a move the table does not allow.
type TransitionError struct {
	From  Status
	Event Event
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot transition status: %q on %q", e.From, e.Event)
}

// Next is the state machine: the status a request in from moves to on ev.
func Next(from Status, ev Event) (Status, error) {
	to, ok := transitions[move{from, ev}]
	if !ok {
		return from, &TransitionError{From: from, Event: ev}
	}
	return to, nil
}
