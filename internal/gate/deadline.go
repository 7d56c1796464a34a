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

// DeadlineStore is what the review-deadline sweep needs from storage.
type DeadlineStore interface {
	List(ctx context.Context, q ListQuery) ([]*PrivacyRequest, string, error)
	Apply(ctx context.Context, c Change) (*PrivacyRequest, error)
}

// ReviewDeadlines moves a request still awaiting_pre_approval Deadline after
// its webhooks were triggered to pending, naming the silent webhooks (SPEC §2,
// beyond), so that an admin sees it instead of it waiting for ever.
type ReviewDeadlines struct {
	Store    DeadlineStore
	Deadline time.Duration // 0: the sweep does nothing
	Now      func() time.Time
	Log      *slog.Logger
}

// sweepPageSize is how many candidates one query reads.
const sweepPageSize = 100

// Sweep moves every overdue request and says how many moved. A request that
// moved meanwhile (an admin's decision, a not-eligible or last eligible reply)
// is left alone: the move is conditional on the status it was read in.
func (u *ReviewDeadlines) Sweep(ctx context.Context) (int, error) {
	if u.Deadline <= 0 {
		return 0, nil
	}
	now := u.Now().UTC().Truncate(time.Microsecond)
	cutoff := now.Add(-u.Deadline)
	// Entering awaiting_pre_approval comes after creation, so every overdue
	// request was created before the cutoff: list those (sort keys are
	// "<created_at>#<id>", "#" sorts before any id) and check each.
	q := ListQuery{Status: StatusAwaitingPreApproval, Size: sweepPageSize, After: FormatTime(cutoff) + "#"}
	moved := 0
	for {
		page, after, err := u.Store.List(ctx, q)
		if err != nil {
			return moved, err
		}
		for _, r := range page {
			ok, err := u.expire(ctx, r, cutoff, now)
			if err != nil {
				return moved, err
			}
			if ok {
				moved++
			}
		}
		if after == "" {
			return moved, nil
		}
		q.After = after
	}
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
