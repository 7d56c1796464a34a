package gate

import "time"

// A request is "due" while the system, not an admin, owes it a next step:
//   - awaiting_pre_approval: its deliveries must be made, its replies decided,
//     and with a review deadline it must move to pending once that passes;
//   - pending: a webhook removed from the configuration may have completed it
//     (every one still configured replied eligible);
//   - approved: the approval must reach the approved queue (until PublishedAt).
//
// The store keeps each due request in a sparse index ordered by DueAt, the
// time the reconciler should look at it next. A write that moves a request
// into one of these statuses sets DueAt to the write's time plus the
// reconciler's grace (ReconcileAfter), so that a request whose normal path
// (stream, dispatcher, replies) runs on time is never looked at; any other
// status removes it from the index.

// DefaultReconcileAfter is how long the normal path gets before the
// reconciler looks at a request that has become due.
const DefaultReconcileAfter = time.Minute

// MaxReconcileBackoff caps how far the reconciler pushes a legitimately
// waiting request's DueAt: such a request costs at most one read and one
// write per this period.
const MaxReconcileBackoff = 24 * time.Hour

// IsDue says whether a request in status st is owed a step by the system.
func IsDue(st Status) bool {
	switch st {
	case StatusAwaitingPreApproval, StatusPending, StatusApproved:
		return true
	}
	return false
}

// FirstDue is the DueAt a write at `at` moving a request into st sets, and
// false when st is not due (the write removes the request from the index).
func FirstDue(st Status, at time.Time, after time.Duration) (time.Time, bool) {
	if !IsDue(st) {
		return time.Time{}, false
	}
	return at.Add(after).UTC().Truncate(time.Microsecond), true
}

// Backoff is the next DueAt of a request that legitimately waits since
// `since` (validators may still reply): as far ahead as it has already
// waited, at least minStep, at most MaxReconcileBackoff, so a request waiting
// a day has been looked at only about log2(day/minStep) times.
func Backoff(since, now time.Time, minStep time.Duration) time.Time {
	step := min(max(now.Sub(since), minStep, time.Microsecond), MaxReconcileBackoff)
	return now.Add(step).UTC().Truncate(time.Microsecond)
}
