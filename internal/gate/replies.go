package gate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pregate/pregate/internal/logkey"
)

// ReplyClaims is what a verified reply token says (SPEC §5).
type ReplyClaims struct {
	WebhookKey       string
	PrivacyRequestID string
}

// Token verification outcomes the reply check distinguishes (SPEC §3.7 2–3).
var (
	ErrReplyTokenInvalid = errors.New("reply token invalid")
	ErrReplyTokenExpired = errors.New("reply token expired")
)

// ReplyTokenVerifier checks a reply token; its errors wrap ErrReplyTokenInvalid
// or ErrReplyTokenExpired.
type ReplyTokenVerifier interface {
	VerifyReply(token string) (ReplyClaims, error)
}

// ReplyWrite records one validator reply, and the decision it brings, as one
// conditional write: it applies only while the stored request still has
// Version (every write to a request bumps it), so a reply decided on a stale
// view is refused and re-decided instead of lost.
type ReplyWrite struct {
	ID         string
	Version    int64
	WebhookKey string
	// WebhookIndex is the webhook's place in the snapshot as read; the
	// version condition guarantees the snapshot has not changed since.
	WebhookIndex int
	State        WebhookState // eligible or not_eligible
	To           Status       // the request's status after the write (may be unchanged)
	At           time.Time
	Activity     []ActivityEntry
}

// ReplyStore is what replies need from storage.
type ReplyStore interface {
	Get(ctx context.Context, id string) (*PrivacyRequest, error)
	// RecordReply writes w; a request whose version moved on is a *ConflictError.
	RecordReply(ctx context.Context, w ReplyWrite) error
}

// Replies is the use case behind the reply routes and the aggregator.
type Replies struct {
	Store    ReplyStore
	Webhooks WebhookLister
	Tokens   ReplyTokenVerifier
	Now      func() time.Time
	Log      *slog.Logger
}

// maxReplyRetries bounds re-decisions under contention: each retry means
// another write to the same request won, so progress is always made.
const maxReplyRetries = 20

// Reply checks a validator's reply in SPEC §3.7's order and records it.
// token is the bearer token (the handler has already answered a missing one).
func (u *Replies) Reply(ctx context.Context, token, pathID string, answer WebhookState) error {
	claims, err := u.Tokens.VerifyReply(token)
	switch {
	case errors.Is(err, ErrReplyTokenExpired):
		return &ForbiddenError{Msg: "Webhook token expired"}
	case err != nil:
		return &ForbiddenError{Msg: "Not Authorized for this action"}
	case claims.PrivacyRequestID != pathID:
		return &ForbiddenError{Msg: "Not Authorized for this action"}
	}
	configured, err := u.configured(ctx)
	if err != nil {
		return err
	}
	webhookGone := &NotFoundError{Msg: fmt.Sprintf("No Pre-Approval Webhook found with id '%s'.", claims.WebhookKey)}
	if !configured[claims.WebhookKey] {
		return webhookGone
	}
	for range maxReplyRetries {
		r, err := u.Store.Get(ctx, pathID)
		var nf *NotFoundError
		if errors.As(err, &nf) {
			return &NotFoundError{Msg: fmt.Sprintf("No privacy request found with id: '%s'.", pathID)}
		}
		if err != nil {
			return err
		}
		w, err := decideReply(r, claims.WebhookKey, answer, configured, u.Now().UTC().Truncate(time.Microsecond))
		if err != nil || w == nil {
			return err
		}
		err = u.Store.RecordReply(ctx, *w)
		var conflict *ConflictError
		if errors.As(err, &conflict) {
			continue // another write won; decide again on the fresh item
		}
		if err != nil {
			return err
		}
		u.Log.InfoContext(ctx, "pre-approval reply recorded", logkey.PrivacyRequestID, r.ID, logkey.WebhookKey, claims.WebhookKey,
			"answer", string(answer), logkey.Status, string(w.To))
		return nil
	}
	return &ConflictError{Msg: "Too many concurrent changes to this privacy request; retry the reply"}
}

func (u *Replies) configured(ctx context.Context) (map[string]bool, error) {
	hooks, err := u.Webhooks.ListWebhooks(ctx)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	set := make(map[string]bool, len(hooks))
	for _, h := range hooks {
		set[h.Key] = true
	}
	return set, nil
}

// decideReply is the aggregator: given the request as read, the replying
// webhook and the set of webhooks still configured, it returns the write to
// make, nil for an idempotent repeat, or the §3.7 refusal.
func decideReply(r *PrivacyRequest, key string, answer WebhookState, configured map[string]bool, now time.Time) (*ReplyWrite, error) {
	if r.Status != StatusPending && r.Status != StatusAwaitingPreApproval {
		return nil, &BadRequestError{Msg: fmt.Sprintf("Privacy request with id '%s' is not in pending or awaiting pre-approval status.", r.ID)}
	}
	idx := -1
	for i, w := range r.Webhooks {
		if w.Key == key {
			idx = i
		}
	}
	if idx < 0 {
		// Configured, but added after this request took its snapshot: it was never called for it.
		return nil, &NotFoundError{Msg: fmt.Sprintf("No Pre-Approval Webhook found with id '%s'.", key)}
	}
	switch cur := r.Webhooks[idx].State; cur {
	case WebhookEligible, WebhookNotEligible:
		if cur == answer {
			return nil, nil
		}
		return nil, &BadRequestError{Msg: fmt.Sprintf("Pre-approval webhook '%s' already replied for privacy request '%s'.", key, r.ID)}
	}
	name := r.Webhooks[idx].Name
	w := &ReplyWrite{ID: r.ID, Version: r.Version, WebhookKey: key, WebhookIndex: idx, State: answer, To: r.Status, At: now}
	if answer == WebhookNotEligible {
		w.To, _ = Next(r.Status, EventNotEligible) // allowed from pending and awaiting, checked above
		w.Activity = []ActivityEntry{{At: now, Action: ActionNotEligible, WebhookKey: key,
			Message: fmt.Sprintf("Request flagged for manual review by pre-approval webhooks. Webhook '%s' responded: not eligible", name)}}
		return w, nil
	}
	w.Activity = []ActivityEntry{{At: now, Action: ActionEligible, WebhookKey: key,
		Message: fmt.Sprintf("Pre-approval webhook '%s' responded: eligible", name)}}
	for i, h := range r.Webhooks {
		if i != idx && configured[h.Key] && h.State != WebhookEligible {
			return w, nil // still waiting for another webhook
		}
	}
	w.To, _ = Next(r.Status, EventAllEligible)
	w.Activity = append(w.Activity, ActivityEntry{At: now, Action: ActionApproved, WebhookKey: key,
		Message: "Request auto-approved by pre-approval webhooks"})
	return w, nil
}
