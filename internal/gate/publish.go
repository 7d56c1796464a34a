package gate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pregate/pregate/internal/logkey"
)

// PublishStore is what publishing approvals needs from storage.
type PublishStore interface {
	Get(ctx context.Context, id string) (*PrivacyRequest, error)
	// MarkPublished sets PublishedAt on an approved request not yet marked,
	// and takes it out of the due index; else a *ConflictError.
	MarkPublished(ctx context.Context, id string, at time.Time) error
}

// Publisher puts each approval on the approved queue once. The durable mark
// (PublishedAt) on the request, not the queue's deduplication window, is what
// makes it once: a request already marked is never sent again, however late
// a stream record is replayed. It sends, then marks; a crash in between
// leaves the request due, and the reconciler sends again (within minutes, so
// the queue's 5-minute deduplication drops that repeat).
type Publisher struct {
	Store PublishStore
	Queue ApprovedPublisher
	Now   func() time.Time
	Log   *slog.Logger
}

// Publish sends m unless its request is already marked published, then
// marks it; it says whether it sent. The stream builds m from the record's
// image; a request that is not approved (yet) is not sent.
func (p *Publisher) Publish(ctx context.Context, m ApprovedMessage) (bool, error) {
	r, err := p.Store.Get(ctx, m.PrivacyRequestID)
	if err != nil {
		return false, err
	}
	if r.Status != StatusApproved || r.PublishedAt != nil {
		return false, nil
	}
	return p.send(ctx, m)
}

// publish is Publish for a request just read (the reconciler's).
func (p *Publisher) publish(ctx context.Context, r *PrivacyRequest) (bool, error) {
	if r.Status != StatusApproved || r.PublishedAt != nil {
		return false, nil
	}
	if r.ApprovedAt == nil {
		return false, fmt.Errorf("request %s is approved without approved_at", r.ID)
	}
	return p.send(ctx, ApprovedMessage{PrivacyRequestID: r.ID, PolicyAction: r.PolicyAction, ApprovedAt: *r.ApprovedAt, ApprovedBy: r.ApprovedBy})
}

func (p *Publisher) send(ctx context.Context, m ApprovedMessage) (bool, error) {
	if err := p.Queue.PublishApproved(ctx, m); err != nil {
		return false, err
	}
	err := p.Store.MarkPublished(ctx, m.PrivacyRequestID, p.Now().UTC().Truncate(time.Microsecond))
	var conflict *ConflictError
	if err != nil && !errors.As(err, &conflict) { // a conflict: marked by another publisher meanwhile
		return true, fmt.Errorf("mark request %s published: %w", m.PrivacyRequestID, err)
	}
	p.Log.InfoContext(ctx, "approved request queued", logkey.PrivacyRequestID, m.PrivacyRequestID, "policy_action", m.PolicyAction)
	return true, nil
}
