package gate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pregate/pregate/internal/logkey"
)

// ReplyClaims is what a verified reply token says.
type ReplyClaims struct {
	WebhookKey       string
	PrivacyRequestID string
	Run              int // the pre-approval run the call was made in
}

// Token verification outcomes the reply check distinguishes (its second and third checks).
var (
	ErrReplyTokenInvalid = errors.New("reply token invalid")
	ErrReplyTokenExpired = errors.New("reply token expired")
)

// ReplyTokenVerifier checks a reply token; its errors wrap ErrReplyTokenInvalid
// or ErrReplyTokenExpired.
type ReplyTokenVerifier interface {
	VerifyReply(token string) (ReplyClaims, error)
}

// ReplyWrite is one conditional write of the reply path (docs/internals/storage.md).
// It conditions on fields, never on the whole item, so that a delivery being
// recorded or another webhook's reply never refuses it:
//   - the status must still be pending or awaiting_pre_approval, unless
//     Shadow: a shadow webhook's reply is recorded whatever the status;
//   - Reply, when set, applies only while that webhook has no reply yet;
//   - To approved applies only while each webhook of Eligible still says eligible.
type ReplyWrite struct {
	ID string
	// Run is the pre-approval run the write was decided in: it applies only
	// while the request is still in that run.
	Run int
	// Reply records one webhook's answer; nil for the approval that follows
	// two last replies racing (each recorded without seeing the other).
	Reply *WebhookReply
	// Shadow marks the reply of a shadow webhook: it moves nothing (To is
	// "") and is recorded whatever the request's status.
	Shadow bool
	// To is the status after the write; "" leaves it unchanged.
	To Status
	// Eligible are the indexes of the other webhooks whose eligible replies an
	// approval rests on (the webhooks deleted from config since do not count).
	Eligible []int
	At       time.Time
	Activity []ActivityEntry
	// DueRead is the request's DueAt as read. A move into a status the
	// system owes keeps it when it comes no later than the move's own first
	// due (FirstDue), so the store does not re-key its due index.
	DueRead *time.Time
}

// WebhookReply is one validator's answer, at its webhook's place in the
// snapshot (fixed once the request awaits replies).
type WebhookReply struct {
	Index  int
	Key    string
	Answer WebhookState // eligible or not_eligible
}

// ReplyStore is what replies need from storage.
type ReplyStore interface {
	Get(ctx context.Context, id string) (*PrivacyRequest, error)
	// RecordReply makes w and returns the request as it is right after it;
	// a refused condition is a *ConflictError.
	RecordReply(ctx context.Context, w ReplyWrite) (*PrivacyRequest, error)
}

// Replies is the use case behind the reply routes and the aggregator.
type Replies struct {
	Store    ReplyStore
	Webhooks WebhookLister
	Tokens   ReplyTokenVerifier
	Now      func() time.Time
	Log      *slog.Logger
	// Attempts is the delivery log a reply is the outcome of a call in; nil: none.
	Attempts DeliveryLog
	// Tests keeps test calls, which validators answer like requests (nil: none).
	Tests TestStore
}

// maxReplyRetries bounds re-decisions under contention: each retry means
// another write to the same request won, so progress is always made.
const maxReplyRetries = 20

// Reply checks a validator's reply in the documented order and records it.
// token is the bearer token (the handler has already answered a missing one).
func (u *Replies) Reply(ctx context.Context, token, pathID string, answer WebhookState) error {
	claims, err := u.Tokens.VerifyReply(token)
	switch {
	case errors.Is(err, ErrReplyTokenExpired):
		return &ForbiddenError{Msg: "Webhook token expired"}
	case errors.Is(err, ErrReplyTokenInvalid):
		return &ForbiddenError{Msg: "Not Authorized for this action"}
	case err != nil:
		// Our own failure (no key set to check with): a 5xx the validator
		// retries, never a refusal of a token that may be valid.
		return fmt.Errorf("verify reply token: %w", err)
	case claims.PrivacyRequestID != pathID:
		return &ForbiddenError{Msg: "Not Authorized for this action"}
	}
	for range maxReplyRetries {
		var r *PrivacyRequest
		missing := false
		if !IsTestID(pathID) {
			var nf *NotFoundError
			if r, err = u.Store.Get(ctx, pathID); errors.As(err, &nf) {
				missing = true
			} else if err != nil {
				return err
			}
		}
		// The configuration is read before each decision, as of the
		// request's snapshot or later (docs/internals/storage.md).
		since := int64(0)
		if r != nil {
			since = r.WebhooksVersion
		}
		configured, err := u.configured(ctx, since)
		if err != nil {
			return err
		}
		if !configured[claims.WebhookKey] {
			return &NotFoundError{Msg: fmt.Sprintf("No Pre-Approval Webhook found with id '%s'.", claims.WebhookKey)}
		}
		if IsTestID(pathID) {
			return u.replyToTest(ctx, claims, answer)
		}
		if missing {
			return &NotFoundError{Msg: fmt.Sprintf("No privacy request found with id: '%s'.", pathID)}
		}
		w, err := decideReply(r, claims, answer, configured, u.now())
		if err != nil {
			return err
		}
		if w == nil {
			// A repeat: its first delivery may have recorded the last reply and
			// then failed before approving (two last replies racing); finish that.
			if i := webhookIndex(r, claims.WebhookKey); r.Webhooks[i].Shadow() {
				return nil
			}
			_, err := u.approveIfComplete(ctx, r, claims.WebhookKey, configured)
			return err
		}
		after, err := u.Store.RecordReply(ctx, *w)
		var conflict *ConflictError
		if errors.As(err, &conflict) {
			continue // replied meanwhile, or the status moved: decide again on the fresh item
		}
		if err != nil {
			return err
		}
		u.Log.InfoContext(ctx, "pre-approval reply recorded", logkey.PrivacyRequestID, r.ID, logkey.WebhookKey, claims.WebhookKey,
			"answer", string(answer), logkey.Status, string(after.Status))
		u.logReply(ctx, claims, answer, w.At)
		if w.To != "" || w.Shadow {
			return nil // this write decided the request, or could not
		}
		_, err = u.approveIfComplete(ctx, after, claims.WebhookKey, configured)
		return err
	}
	return &ConflictError{Msg: "Too many concurrent changes to this privacy request; retry the reply"}
}

// logReply makes answer the outcome of its call in the delivery log; like
// the dispatcher's, a failed log write is logged and the reply stands.
func (u *Replies) logReply(ctx context.Context, claims ReplyClaims, answer WebhookState, at time.Time) {
	if u.Attempts == nil {
		return
	}
	if err := u.Attempts.LogReply(ctx, claims.WebhookKey, claims.PrivacyRequestID, claims.Run, answer, at); err != nil {
		u.Log.ErrorContext(ctx, "delivery log write failed", logkey.PrivacyRequestID, claims.PrivacyRequestID,
			logkey.WebhookKey, claims.WebhookKey, "error", err.Error())
	}
}

func (u *Replies) now() time.Time { return u.Now().UTC().Truncate(time.Microsecond) }

// ApproveIfComplete approves r when every webhook of its snapshot still
// configured has replied eligible while r is undecided, and says whether
// this call did. It reads the configuration itself, immediately before each
// write, so an approval by the reconciler rests on the
// configured set as it is then, however long ago r was listed. The webhook
// the timeline names as deciding is the one whose eligible reply came last.
func (u *Replies) ApproveIfComplete(ctx context.Context, r *PrivacyRequest) (bool, error) {
	return u.approveIfComplete(ctx, r, "", nil)
}

// approveIfComplete is ApproveIfComplete naming key as deciding ("": the
// last eligible reply's webhook). It is needed when the
// last two replies were recorded at once, each write seeing the other
// missing: the later one's result (r) shows both; and by the reconciler, for a
// request completed by a deletion or left complete by a crash. Of two such
// approvals only one passes its condition; the loser re-reads and sees the
// request decided. A request none of whose webhooks is still configured has
// no reply that counts, so it is left to an admin.
//
// read is the configuration the caller read a moment before (nil: none).
// When r is not complete by it, approveIfComplete does not read it again:
// a webhook deleted in between is the reconciler's to complete, as one
// deleted just after. An approval always rests on a read of its own.
func (u *Replies) approveIfComplete(ctx context.Context, r *PrivacyRequest, key string, read map[string]bool) (bool, error) {
	if read != nil {
		if _, ok := allEligible(r, read, -1); !ok {
			return false, nil
		}
	}
	for range maxReplyRetries {
		if r.Status != StatusPending && r.Status != StatusAwaitingPreApproval {
			return false, nil
		}
		configured, err := u.configured(ctx, r.WebhooksVersion)
		if err != nil {
			return false, err
		}
		eligible, ok := allEligible(r, configured, -1)
		if !ok || len(eligible) == 0 {
			return false, nil
		}
		deciding := key
		if deciding == "" || !configured[deciding] {
			deciding = lastEligible(r, configured)
		}
		now := u.now()
		_, err = u.Store.RecordReply(ctx, ReplyWrite{ID: r.ID, Run: r.Run, To: StatusApproved, Eligible: eligible, At: now, DueRead: r.DueAt,
			Activity: append(removedEntries(r, configured, now), approvedEntry(now, r, deciding))})
		var conflict *ConflictError
		if !errors.As(err, &conflict) {
			if err != nil {
				return false, err
			}
			u.Log.InfoContext(ctx, "privacy request approved by its pre-approval webhooks", logkey.PrivacyRequestID, r.ID, logkey.WebhookKey, deciding)
			return true, nil
		}
		if r, err = u.Store.Get(ctx, r.ID); err != nil {
			return false, err
		}
	}
	return false, &ConflictError{Msg: "Too many concurrent changes to this privacy request; retry the reply"}
}

// lastEligible is the configured webhook whose eligible reply was recorded
// last: the one that completed r ("" when none has replied).
func lastEligible(r *PrivacyRequest, configured map[string]bool) string {
	key, last := "", time.Time{}
	for _, h := range r.Webhooks {
		if !configured[h.Key] || h.Shadow() || h.Reply != WebhookEligible {
			continue
		}
		var at time.Time // none stored: the snapshot's order decides
		if h.RepliedAt != nil {
			at = *h.RepliedAt
		}
		if !at.Before(last) {
			key, last = h.Key, at
		}
	}
	return key
}

// allEligible returns the indexes of r's configured enforce webhooks other
// than skip, and whether each of them has replied eligible (shadow webhooks
// never count).
func allEligible(r *PrivacyRequest, configured map[string]bool, skip int) ([]int, bool) {
	var idx []int
	for i, h := range r.Webhooks {
		if i == skip || !configured[h.Key] || h.Shadow() {
			continue
		}
		if h.Reply != WebhookEligible {
			return nil, false
		}
		idx = append(idx, i)
	}
	return idx, true
}

// removedEntries are the pre_approval_webhook_removed entries of an
// approval of r: one per enforce webhook of its snapshot no longer
// configured, whose reply the approval does without.
func removedEntries(r *PrivacyRequest, configured map[string]bool, at time.Time) []ActivityEntry {
	var out []ActivityEntry
	for i, h := range r.Webhooks {
		if !configured[h.Key] && !h.Shadow() {
			out = append(out, hookEntry(at, KindWebhookRemoved, r, i))
		}
	}
	return out
}

// approvedEntry is the approval of r by its webhooks, the one with key
// deciding (its last eligible reply).
func approvedEntry(at time.Time, r *PrivacyRequest, deciding string) ActivityEntry {
	if i := webhookIndex(r, deciding); i >= 0 {
		return hookEntry(at, KindWebhooksApproved, r, i)
	}
	return ActivityEntry{At: at, Kind: KindWebhooksApproved}
}

// configured is the set of webhook keys configured at version since or
// later (WebhooksSince: given a request's snapshot version, a stale read can
// only keep a deleted webhook awaited).
func (u *Replies) configured(ctx context.Context, since int64) (map[string]bool, error) {
	hooks, err := u.Webhooks.WebhooksSince(ctx, since)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	set := make(map[string]bool, len(hooks))
	for _, h := range hooks {
		set[h.Key] = true
	}
	return set, nil
}

// alreadyReplied refuses a webhook's second, different answer.
func alreadyReplied(key, id string) error {
	return &BadRequestError{Msg: fmt.Sprintf("Pre-approval webhook '%s' already replied for privacy request '%s'.", key, id)}
}

// shadowReply is the write recording the reply of shadow webhook idx of r:
// whatever r's status, it only records.
func shadowReply(r *PrivacyRequest, idx int, answer WebhookState, now time.Time) (*ReplyWrite, error) {
	h := r.Webhooks[idx]
	if h.Reply != "" {
		return nil, alreadyReplied(h.Key, r.ID)
	}
	kind := KindShadowEligible
	if answer == WebhookNotEligible {
		kind = KindShadowNotEligible
	}
	return &ReplyWrite{ID: r.ID, Run: r.Run, Reply: &WebhookReply{Index: idx, Key: h.Key, Answer: answer}, Shadow: true, At: now,
		Activity: []ActivityEntry{hookEntry(now, kind, r, idx)}}, nil
}

// decideReply is the aggregator: given the request as read, the verified
// token's claims and the set of webhooks still configured, it returns the
// write to make, nil for an idempotent repeat, or the documented refusal. A reply
// identical to the one recorded is a repeat whatever the status now is (a
// validator SDK retrying after a lost response must not see an error).
func decideReply(r *PrivacyRequest, claims ReplyClaims, answer WebhookState, configured map[string]bool, now time.Time) (*ReplyWrite, error) {
	key := claims.WebhookKey
	if claims.Run != r.Run {
		return nil, &BadRequestError{Msg: fmt.Sprintf("Pre-approval of privacy request '%s' was re-run since this call; reply to the latest call.", r.ID)}
	}
	idx := webhookIndex(r, key)
	if idx >= 0 && r.Webhooks[idx].Reply == answer {
		return nil, nil
	}
	if idx >= 0 && r.Webhooks[idx].Shadow() {
		return shadowReply(r, idx, answer, now)
	}
	if r.Status != StatusPending && r.Status != StatusAwaitingPreApproval {
		return nil, &BadRequestError{Msg: fmt.Sprintf("Privacy request with id '%s' is not in pending or awaiting pre-approval status.", r.ID)}
	}
	if idx < 0 {
		// Configured, but added after this request took its snapshot: it was never called for it.
		return nil, &NotFoundError{Msg: fmt.Sprintf("No Pre-Approval Webhook found with id '%s'.", key)}
	}
	if r.Webhooks[idx].Reply != "" {
		return nil, alreadyReplied(key, r.ID)
	}
	w := &ReplyWrite{ID: r.ID, Run: r.Run, Reply: &WebhookReply{Index: idx, Key: key, Answer: answer}, At: now, DueRead: r.DueAt}
	if answer == WebhookNotEligible {
		w.To, _ = Next(r.Status, EventNotEligible) // allowed from pending and awaiting, checked above
		w.Activity = []ActivityEntry{hookEntry(now, KindNotEligible, r, idx)}
		return w, nil
	}
	w.Activity = []ActivityEntry{hookEntry(now, KindEligible, r, idx)}
	eligible, ok := allEligible(r, configured, idx)
	if !ok {
		return w, nil // still waiting for another webhook, as far as this read shows
	}
	w.To, _ = Next(r.Status, EventAllEligible)
	w.Eligible = eligible
	w.Activity = append(append(w.Activity, removedEntries(r, configured, now)...), approvedEntry(now, r, key))
	return w, nil
}
