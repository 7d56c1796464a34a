package gate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/pregate/pregate/internal/logkey"
)

// DeadlineStore is what the waiting-requests sweep needs from storage.
type DeadlineStore interface {
	List(ctx context.Context, q ListQuery) ([]*PrivacyRequest, string, error)
	Apply(ctx context.Context, c Change) (*PrivacyRequest, error)
}

// ReviewDeadlines is the scheduled sweep of the requests still waiting for
// their webhooks (awaiting_pre_approval, or pending after a failed delivery).
// It does two things no reply triggers:
//   - it approves a request every webhook of whose snapshot still configured
//     has replied eligible: the silent webhook was deleted after
//     the others replied, or the approval after two last replies racing
//     failed (a crash) and no repeat reply came to finish it;
//   - with a Deadline, it moves a request still awaiting_pre_approval
//     Deadline after its webhooks were triggered to pending, naming the
//     silent webhooks (beyond Fides), so that an admin sees it instead of
//     it waiting for ever.
type ReviewDeadlines struct {
	Store DeadlineStore
	// Replies makes the approval, with the same conditional write as a last reply.
	Replies  *Replies
	Deadline time.Duration // 0: no request is moved for lateness
	Now      func() time.Time
	Log      *slog.Logger
}

// SweepResult counts what one sweep changed.
type SweepResult struct {
	Approved int // every still-configured webhook had replied eligible
	Moved    int // to pending, past the deadline
}

// sweepPageSize is how many candidates one query reads.
const sweepPageSize = 100

// Sweep approves every complete waiting request, then moves every overdue
// one. A request that moved meanwhile (an admin's decision, a reply) is left
// alone: each write is conditional on the status it was read in, and the
// approval also on the eligible replies it rests on.
func (u *ReviewDeadlines) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	configured, err := u.Replies.configured(ctx)
	if err != nil {
		return res, err
	}
	now := u.Now().UTC().Truncate(time.Microsecond)
	cutoff := now.Add(-u.Deadline)
	for _, st := range []Status{StatusAwaitingPreApproval, StatusPending} {
		q := ListQuery{Status: st, Size: sweepPageSize}
		for {
			page, after, err := u.Store.List(ctx, q)
			if err != nil {
				return res, err
			}
			for _, r := range page {
				approved, err := u.Replies.approveIfComplete(ctx, r, lastEligible(r, configured), configured)
				if err != nil {
					return res, err
				}
				if approved {
					res.Approved++
					continue
				}
				if st != StatusAwaitingPreApproval || u.Deadline <= 0 {
					continue
				}
				moved, err := u.expire(ctx, r, cutoff, now)
				if err != nil {
					return res, err
				}
				if moved {
					res.Moved++
				}
			}
			if after == "" {
				break
			}
			q.After = after
		}
	}
	return res, nil
}

func (u *ReviewDeadlines) expire(ctx context.Context, r *PrivacyRequest, cutoff, now time.Time) (bool, error) {
	if awaitingSince(r).After(cutoff) {
		return false, nil
	}
	to, err := Next(r.Status, EventReviewDeadline)
	if err != nil {
		return false, nil // the listing index lagged behind a move
	}
	var silent []string
	for _, w := range r.Webhooks {
		if w.Reply == "" {
			silent = append(silent, w.Name)
		}
	}
	msg := fmt.Sprintf("Review deadline of %s passed with no reply from pre-approval webhooks: %s", u.Deadline, strings.Join(silent, ", "))
	_, err = u.Store.Apply(ctx, Change{ID: r.ID, From: r.Status, To: to, At: now,
		Activity: []ActivityEntry{{At: now, Action: ActionStatusChanged, Message: msg}}})
	var conflict *ConflictError
	var nf *NotFoundError
	if errors.As(err, &conflict) || errors.As(err, &nf) {
		return false, nil // decided, replied or gone meanwhile: nothing is overdue any more
	}
	if err != nil {
		return false, err
	}
	u.Log.InfoContext(ctx, "review deadline passed", logkey.PrivacyRequestID, r.ID, logkey.Status, string(to), "silent_webhooks", silent)
	return true, nil
}

// awaitingSince is when the request's webhooks were triggered (its creation,
// if the timeline has no such entry).
func awaitingSince(r *PrivacyRequest) time.Time {
	for _, e := range r.Activity {
		if e.Action == ActionWebhookTriggered {
			return e.At
		}
	}
	return r.CreatedAt
}
