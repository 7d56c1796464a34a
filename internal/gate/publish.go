package gate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pregate/pregate/internal/logkey"
)

// PublishLease is how long a publisher holds the right to send one approval.
// A publisher that crashed between its send and its mark is followed, once
// its claim ends, by the reconciler's send: the lease, the reconciler's
// schedule and its longest run together stay within ApprovedDedupWindow, so
// that SQS drops the repeat.
const PublishLease = time.Minute

// ApprovedDedupWindow is how long the approved FIFO queue drops a message
// whose MessageDeduplicationId (the request id) it has had, consumed or not.
const ApprovedDedupWindow = 5 * time.Minute

// PublishClaim is a publisher's right to send one approval: Token names the
// publisher (so that a claim whose response was lost is recognised as its
// own), Until is when the right ends.
type PublishClaim struct {
	Token string
	Until time.Time
}

// PublishStore is what publishing approvals needs from storage.
type PublishStore interface {
	// ClaimPublish gives c.Token the right to send request id's approval
	// until c.Until: only while the request is approved, not marked
	// published, and not claimed by another publisher whose claim runs past
	// now. The claim leaves the request's DueAt where the approval put it
	// (no later than the approval's FirstDue), so the reconciler takes it up
	// at its first run after the claim ends (a publisher that crashed). A
	// claim already held by c.Token succeeds again (our own lost response);
	// any other refusal is a *ConflictError.
	ClaimPublish(ctx context.Context, id string, c PublishClaim, now time.Time) error
	// MarkPublished sets PublishedAt on an approved request not yet marked,
	// drops its claim and takes it out of the due index; else a
	// *ConflictError.
	MarkPublished(ctx context.Context, id string, at time.Time) error
}

// Publisher puts each approval on the approved queue once. Two publishers
// exist, the stream and the reconciler, and either may be late by minutes or
// replayed days later; the request itself decides which one sends:
//  1. claim: a conditional write that only one publisher at a time wins
//     (PublishLease), and none once the request is marked published;
//  2. send, only the claimant;
//  3. mark PublishedAt, which ends the request's publication for good.
//
// So the queue's deduplication window is not what makes it once: a request
// already marked or claimed is not sent again, however late a record comes.
// A crash after the claim leaves the request due, and the reconciler's first
// run after the claim ends claims and sends again (the only case of two sends; SQS
// drops the second, which comes within ApprovedDedupWindow).
type Publisher struct {
	Store PublishStore
	Queue ApprovedPublisher
	Now   func() time.Time
	Log   *slog.Logger
	// Lease is how long a claim holds (PublishLease when 0).
	Lease time.Duration
	// NewToken names one claim (random when nil).
	NewToken func() string
}

// publish is Publish for a request just read (the reconciler's).
func (p *Publisher) publish(ctx context.Context, r *PrivacyRequest) (bool, error) {
	if r.Status != StatusApproved || r.PublishedAt != nil {
		return false, nil
	}
	if r.ApprovedAt == nil {
		return false, fmt.Errorf("request %s is approved without approved_at", r.ID)
	}
	return p.Publish(ctx, ApprovedMessage{PrivacyRequestID: r.ID, PolicyAction: r.PolicyAction, ApprovedAt: *r.ApprovedAt, ApprovedBy: r.ApprovedBy})
}

// Publish sends m unless its request is not approved, already marked
// published or claimed by another publisher, then marks it; it says whether
// it sent. The stream builds m from the record's image.
func (p *Publisher) Publish(ctx context.Context, m ApprovedMessage) (bool, error) {
	id := m.PrivacyRequestID
	now := p.Now().UTC().Truncate(time.Microsecond)
	lease := p.Lease
	if lease <= 0 {
		lease = PublishLease
	}
	claim := PublishClaim{Token: p.token(), Until: now.Add(lease)}
	err := p.Store.ClaimPublish(ctx, id, claim, now)
	var conflict *ConflictError
	if errors.As(err, &conflict) { // not approved, marked, or another publisher's turn
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim publication of request %s: %w", id, err)
	}
	// The request stays due: a failure from here on leaves it to the
	// reconciler once the claim ends.
	if err := p.Queue.PublishApproved(ctx, m); err != nil {
		return false, err
	}
	err = p.Store.MarkPublished(ctx, id, p.Now().UTC().Truncate(time.Microsecond))
	if err != nil && !errors.As(err, &conflict) { // a conflict: marked by another publisher meanwhile
		return true, fmt.Errorf("mark request %s published: %w", id, err)
	}
	p.Log.InfoContext(ctx, "approved request queued", logkey.PrivacyRequestID, id, "policy_action", m.PolicyAction)
	return true, nil
}

func (p *Publisher) token() string {
	if p.NewToken != nil {
		return p.NewToken()
	}
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}
