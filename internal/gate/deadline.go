package gate

import (
	"context"
	"errors"
	"time"

	"github.com/pregate/pregate/internal/logkey"
)

// expire moves a request left awaiting_pre_approval past the review
// deadline to pending, naming the silent enforce webhooks, so that an admin sees it
// instead of it waiting for ever.
func (u *Reconciler) expire(ctx context.Context, r *PrivacyRequest, now time.Time) (bool, error) {
	to, err := Next(r.Status, EventReviewDeadline)
	if err != nil {
		return false, nil // the listing index lagged behind a move
	}
	var silent []string
	e := ActivityEntry{At: now, Kind: KindDeadlinePassed, Deadline: u.Deadline}
	for i, w := range r.Webhooks {
		if w.Reply == "" && !w.Shadow() {
			silent = append(silent, w.Name)
			e.Hooks = append(e.Hooks, Mention{Index: i, Key: w.Key, Name: w.Name})
		}
	}
	_, err = u.Store.Apply(ctx, Change{ID: r.ID, From: r.Status, To: to, At: now, Activity: []ActivityEntry{e}})
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

// awaitingSince is when the request's webhooks were last triggered (a
// re-run of pre-approval starts the wait again), or its creation if the
// timeline has no such entry.
func awaitingSince(r *PrivacyRequest) time.Time {
	for i := len(r.Activity) - 1; i >= 0; i-- {
		if e := r.Activity[i]; e.Kind == KindTriggered {
			return e.At
		}
	}
	return r.CreatedAt
}
