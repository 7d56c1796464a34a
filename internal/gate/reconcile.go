package gate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/pregate/pregate/internal/logkey"
)

// DueEntry is one request of the due index: its id, when it is due, and the
// index key to continue after.
type DueEntry struct {
	ID    string
	DueAt time.Time
	Key   string
}

// ReconcileStore is what the reconciler needs from storage.
type ReconcileStore interface {
	// Due returns up to limit requests due at or before now, oldest due
	// first, after the entry whose Key is after ("" from the oldest).
	Due(ctx context.Context, now time.Time, after string, limit int) ([]DueEntry, error)
	Get(ctx context.Context, id string) (*PrivacyRequest, error)
	Apply(ctx context.Context, c Change) (*PrivacyRequest, error)
	// Postpone moves the DueAt of a request still in st and still due at
	// from to `to`, or out of the due index when to is nil; a request that
	// moved meanwhile is a *ConflictError.
	Postpone(ctx context.Context, id string, st Status, from time.Time, to *time.Time) error
}

// QueueBacklog tells how long messages wait in the dispatch queue.
type QueueBacklog interface {
	// OldestMessageAge is the largest age the queue's oldest message
	// reached since since (0 when nothing waited).
	OldestMessageAge(ctx context.Context, since time.Time) (time.Duration, error)
}

// Reconciler is the scheduled job that completes every overdue step the
// normal path (stream, dispatcher, replies) did not. It reads only the due
// index, oldest due first, so a run costs O(due requests), and each request
// it looks at either leaves the index (its step done, or nothing left for the
// system to do) or has its DueAt pushed forward; so a run stopped by its
// deadline is resumed by the next, which starts from the oldest due again.
// One request's error is logged and skipped; the run goes on.
//
// What it completes, per status:
//   - awaiting_pre_approval: every still-configured webhook replied eligible
//     (the silent one was deleted, or a crash between the last reply and its
//     approval): approve, with the conditional approval write of a last
//     reply; past Deadline: move to pending; deliveries still unrecorded
//     DispatchGrace after the webhooks were triggered (the stream record
//     was lost, or the message): enqueue them again, as the stream does;
//     otherwise it waits legitimately, and DueAt backs off.
//   - pending with a snapshot: approve when complete, else back off.
//   - pending without one, or with shadow webhooks only: an admin's; it
//     leaves the index. Nothing waits for a shadow webhook.
//   - approved: publish and mark (Publisher), unless marked already.
type Reconciler struct {
	Store ReconcileStore
	// Replies makes the approval, with the same conditional write as a last reply.
	Replies    *Replies
	Publisher  *Publisher
	Deliveries DeliveryQueue
	// Deadline is REVIEW_DEADLINE (0: no request is moved for lateness).
	Deadline time.Duration
	// DispatchGrace is how long after the webhooks were triggered a delivery
	// may stay unrecorded before it is enqueued again: longer than the
	// dispatcher can spend on it (DispatchSpan) plus a crashed attempt.
	DispatchGrace time.Duration
	// Backlog, when set, tells how long messages wait in the dispatch
	// queue: past DispatchGrace, a delivery is enqueued again only once
	// DispatchAttempts waits as long as the longest seen since its trigger
	// have passed too, so that a message still queued behind a backlog is
	// never sent a second time.
	Backlog          QueueBacklog
	DispatchAttempts int
	// MinBackoff is the shortest push of a waiting request's DueAt.
	MinBackoff time.Duration
	// StopBefore is how long before the invocation's deadline the run stops.
	StopBefore time.Duration
	// Batch is how many due requests one index read returns (default 100).
	Batch int
	Now   func() time.Time
	Log   *slog.Logger
}

// ReconcileResult counts what one run did.
type ReconcileResult struct {
	Approved    int // every still-configured webhook had replied eligible
	Moved       int // to pending, past the deadline
	Published   int // approvals put on the approved queue
	Redelivered int // requests whose unrecorded deliveries were enqueued again
	Postponed   int // legitimately waiting: DueAt pushed forward (or out of the index)
	Failed      int // errors, logged; the request stays due
	Stopped     bool
}

// Run reconciles every request due at the start of the run. An error is
// returned only when the due index cannot be read.
func (u *Reconciler) Run(ctx context.Context) (ReconcileResult, error) {
	var res ReconcileResult
	now := u.Now().UTC().Truncate(time.Microsecond)
	batch := u.Batch
	if batch <= 0 {
		batch = 100
	}
	after := ""
	for {
		if u.stopping(ctx) {
			res.Stopped = true
			return res, nil
		}
		due, err := u.Store.Due(ctx, now, after, batch)
		if err != nil {
			return res, err
		}
		for _, e := range due {
			if u.stopping(ctx) {
				res.Stopped = true
				return res, nil
			}
			if err := u.one(ctx, e, now, &res); err != nil {
				res.Failed++
				u.Log.ErrorContext(ctx, "reconcile request failed", logkey.PrivacyRequestID, e.ID, "error", err.Error())
			}
			after = e.Key
		}
		if len(due) < batch {
			return res, nil
		}
	}
}

// stopping says whether the invocation's deadline is StopBefore away.
func (u *Reconciler) stopping(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < u.StopBefore
}

func (u *Reconciler) one(ctx context.Context, e DueEntry, now time.Time, res *ReconcileResult) error {
	r, err := u.Store.Get(ctx, e.ID)
	var nf *NotFoundError
	switch {
	case errors.As(err, &nf):
		return nil
	case err != nil:
		return err
	case r.DueAt == nil || r.DueAt.After(now):
		return nil // moved on since the index was read
	}
	switch r.Status {
	case StatusApproved:
		if r.PublishedAt != nil {
			return u.postpone(ctx, r, nil, res)
		}
		published, err := u.Publisher.publish(ctx, r)
		if published {
			res.Published++
		}
		return err
	case StatusAwaitingPreApproval, StatusPending:
		if !hasEnforce(r) {
			return u.postpone(ctx, r, nil, res) // manual review: an admin's (shadow webhooks decide nothing)
		}
		// Reads the configuration itself, right before its write.
		approved, err := u.Replies.ApproveIfComplete(ctx, r)
		if err != nil || approved {
			if approved {
				res.Approved++
			}
			return err
		}
		return u.wait(ctx, r, now, res)
	}
	return u.postpone(ctx, r, nil, res) // not due any more (the index lags)
}

// wait handles a waiting request that is not complete: the deadline, lost
// deliveries, and else the backoff.
func (u *Reconciler) wait(ctx context.Context, r *PrivacyRequest, now time.Time, res *ReconcileResult) error {
	since := awaitingSince(r)
	awaiting := r.Status == StatusAwaitingPreApproval
	if awaiting && u.Deadline > 0 && !since.Add(u.Deadline).After(now) {
		moved, err := u.expire(ctx, r, now)
		if moved {
			res.Moved++
		}
		return err
	}
	next := Backoff(since, now, u.MinBackoff)
	if awaiting && u.Deadline > 0 {
		next = minTime(next, since.Add(u.Deadline))
	}
	if lost := undelivered(r); awaiting && len(lost) > 0 {
		grace, err := u.graceEnd(ctx, since, now)
		if err != nil {
			return err
		}
		if grace.After(now) {
			next = minTime(next, grace)
		} else {
			if err := u.Deliveries.EnqueueDeliveries(ctx, DeliveriesOf(r.ID, r.Run, lost)); err != nil {
				return fmt.Errorf("enqueue deliveries again: %w", err)
			}
			res.Redelivered++
			u.Log.WarnContext(ctx, "deliveries never recorded: enqueued again", logkey.PrivacyRequestID, r.ID, "deliveries", len(lost))
		}
	}
	return u.postpone(ctx, r, &next, res)
}

// graceEnd is when the deliveries of a request triggered at since count as
// lost: DispatchGrace later, plus, behind a backlog of the dispatch queue,
// one wait as long as the longest seen since then for each attempt (each
// attempt's message may have waited that long).
func (u *Reconciler) graceEnd(ctx context.Context, since, now time.Time) (time.Time, error) {
	grace := since.Add(u.DispatchGrace)
	if grace.After(now) || u.Backlog == nil {
		return grace, nil
	}
	age, err := u.Backlog.OldestMessageAge(ctx, since)
	if err != nil {
		return time.Time{}, err // unknown: the request stays due, nothing is sent again
	}
	return grace.Add(time.Duration(max(u.DispatchAttempts, 1)) * age), nil
}

func (u *Reconciler) postpone(ctx context.Context, r *PrivacyRequest, to *time.Time, res *ReconcileResult) error {
	err := u.Store.Postpone(ctx, r.ID, r.Status, *r.DueAt, to)
	var conflict *ConflictError
	if errors.As(err, &conflict) {
		return nil // moved meanwhile: its new DueAt stands
	}
	if err == nil {
		res.Postponed++
	}
	return err
}

// undelivered are the keys of r's webhooks with neither a recorded delivery
// nor a reply, when an enforce webhook is among them (else none: nothing
// waits for a shadow webhook). The shadow ones go along, as the lost stream
// record or message that stranded the enforce ones stranded them too.
func undelivered(r *PrivacyRequest) []string {
	var keys []string
	enforce := false
	for _, w := range r.Webhooks {
		if w.Delivery == "" && w.Reply == "" {
			keys = append(keys, w.Key)
			enforce = enforce || !w.Shadow()
		}
	}
	if !enforce {
		return nil
	}
	return keys
}

// hasEnforce reports whether r's snapshot holds a webhook that decides.
func hasEnforce(r *PrivacyRequest) bool {
	return slices.ContainsFunc(r.Webhooks, func(w SnapshotWebhook) bool { return !w.Shadow() })
}

// DeliveriesOf are the deliveries of the given webhooks of a request; the
// stream and the reconciler enqueue the same ones, so the dispatcher and the
// validators see one delivery id per webhook whoever enqueued it.
func DeliveriesOf(id string, run int, keys []string) []Delivery {
	ds := make([]Delivery, len(keys))
	for i, k := range keys {
		ds[i] = Delivery{ID: RunDeliveryID(id, k, run), PrivacyRequestID: id, WebhookKey: k, Run: run}
	}
	return ds
}

// DispatchSpan is the longest the dispatcher spends on one delivery: every
// attempt's timeout plus every backoff between attempts at its longest.
func DispatchSpan(attempts int, backoff, timeout time.Duration) time.Duration {
	span := time.Duration(attempts) * timeout
	d := backoff
	for i := 1; i < attempts; i++ {
		span += min(d, MaxRetryDelay)
		d *= 2
	}
	return span
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
