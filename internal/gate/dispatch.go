package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pregate/pregate/internal/logkey"
)

// CallResult is what one HTTP call to a validator came to. Reason is short
// and safe to store (no URL, no header value).
type CallResult struct {
	StatusCode int // 0 when no response was received
	OK         bool
	Retryable  bool
	Reason     string
}

// Caller posts one call to a validator (implemented by *webhook.Client).
type Caller interface {
	Call(ctx context.Context, url string, header http.Header, body []byte) CallResult
}

// ReplyTokenMinter mints the reply-to-token of a call (implemented by *keys.Tokens).
type ReplyTokenMinter interface {
	Mint(webhookKey, privacyRequestID string) (string, error)
}

// DeliveryTargets opens what a call needs (implemented by *Admin).
type DeliveryTargets interface {
	DeliveryTarget(ctx context.Context, webhookKey string) (DeliveryTarget, error)
}

// DeliveryWrite records the end of a delivery (called or failed for good) as
// one conditional write: it applies only while the stored request still has
// Version (every write to a request bumps it).
type DeliveryWrite struct {
	ID           string
	Version      int64
	WebhookKey   string
	WebhookIndex int // the webhook's place in the snapshot as read
	State        WebhookState
	Attempts     int
	To           Status // the request's status after the write (may be unchanged)
	At           time.Time
	Activity     []ActivityEntry
}

// DeliveryStore is what the dispatcher needs from storage.
type DeliveryStore interface {
	Get(ctx context.Context, id string) (*PrivacyRequest, error)
	// RecordDelivery writes w; a request whose version moved on is a *ConflictError.
	RecordDelivery(ctx context.Context, w DeliveryWrite) error
}

// OutcomeKind is what became of one delivery attempt.
type OutcomeKind string

// The outcomes of Dispatcher.Deliver.
const (
	OutcomeDelivered OutcomeKind = "delivered" // 2xx, recorded
	OutcomeSkipped   OutcomeKind = "skipped"   // nothing to call (decided, deleted, already called...)
	OutcomeRetry     OutcomeKind = "retry"     // attempt failed; try again after RetryAfter
	OutcomeFailed    OutcomeKind = "failed"    // failed for good, recorded
)

// Outcome is the result of one attempt. Only OutcomeRetry keeps the message.
type Outcome struct {
	Kind       OutcomeKind
	RetryAfter time.Duration
	Reason     string
}

// MaxRetryDelay caps the backoff (SQS's visibility limit is far above; SPEC §6 says 15 min).
const MaxRetryDelay = 15 * time.Minute

// PolicyNames are the display names of the default policies (SPEC §4 body).
var PolicyNames = map[string]string{
	"default_access_policy":  "Default Access Policy",
	"default_erasure_policy": "Default Erasure Policy",
	"default_consent_policy": "Default Consent Policy",
	"default_update_policy":  "Default Update Policy",
}

// Dispatcher calls one webhook's validator for one request (SPEC §4, §6).
type Dispatcher struct {
	Store       DeliveryStore
	Targets     DeliveryTargets
	Tokens      ReplyTokenMinter
	Caller      Caller
	Sign        func(secret, msgID string, ts time.Time, body []byte) (string, error)
	BaseURL     string // PUBLIC_BASE_URL, ending in /api/v1
	MaxAttempts int
	Backoff     time.Duration
	Now         func() time.Time
	Rand        func() float64 // [0,1); math/rand/v2 when nil
	Log         *slog.Logger
}

// maxDeliveryRetries bounds re-decisions of the recording write under contention.
const maxDeliveryRetries = 20

// Deliver makes attempt number attempt (1-based) of delivery d. An error is
// a fault of ours (storage, keys): the attempt should be retried as is.
func (u *Dispatcher) Deliver(ctx context.Context, d Delivery, attempt int) (Outcome, error) {
	log := u.Log.With(logkey.PrivacyRequestID, d.PrivacyRequestID, logkey.WebhookKey, d.WebhookKey, logkey.DeliveryID, d.ID, logkey.Attempt, attempt)
	r, err := u.Store.Get(ctx, d.PrivacyRequestID)
	var nf *NotFoundError
	if errors.As(err, &nf) {
		log.WarnContext(ctx, "delivery dropped: privacy request not found")
		return Outcome{Kind: OutcomeSkipped, Reason: "privacy request not found"}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	if reason := skipReason(r, d.WebhookKey); reason != "" {
		log.InfoContext(ctx, "delivery skipped", "reason", reason)
		return Outcome{Kind: OutcomeSkipped, Reason: reason}, nil
	}
	target, err := u.Targets.DeliveryTarget(ctx, d.WebhookKey)
	if errors.As(err, &nf) {
		log.InfoContext(ctx, "delivery skipped", "reason", "webhook no longer configured")
		return Outcome{Kind: OutcomeSkipped, Reason: "webhook no longer configured"}, nil
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("load delivery target %q: %w", d.WebhookKey, err)
	}
	now := u.Now().UTC()
	header, body, err := u.buildCall(r, d, target, now)
	if err != nil {
		return Outcome{}, err
	}
	res := u.Caller.Call(ctx, target.URL, header, body)
	if res.OK {
		log.InfoContext(ctx, "pre-approval webhook called", logkey.StatusCode, res.StatusCode)
		return Outcome{Kind: OutcomeDelivered}, u.record(ctx, d, func(r *PrivacyRequest, i int, at time.Time) *DeliveryWrite {
			w := &DeliveryWrite{State: r.Webhooks[i].State, To: r.Status, Attempts: max(r.Webhooks[i].Attempts+1, attempt)}
			if w.State == WebhookPending || w.State == WebhookFailed {
				w.State = WebhookCalled
			}
			w.Activity = []ActivityEntry{{At: at, Action: ActionWebhookCalled, WebhookKey: d.WebhookKey,
				Message: fmt.Sprintf("Called pre-approval webhook '%s': HTTP %d", r.Webhooks[i].Name, res.StatusCode)}}
			return w
		})
	}
	if res.Retryable && attempt < u.MaxAttempts {
		delay := u.retryDelay(attempt)
		log.InfoContext(ctx, "pre-approval webhook attempt failed; will retry", "reason", res.Reason, "retry_after", delay.String())
		return Outcome{Kind: OutcomeRetry, RetryAfter: delay, Reason: res.Reason}, nil
	}
	log.WarnContext(ctx, "pre-approval webhook failed for good", "reason", res.Reason)
	return Outcome{Kind: OutcomeFailed, Reason: res.Reason}, u.record(ctx, d, func(r *PrivacyRequest, i int, at time.Time) *DeliveryWrite {
		if s := r.Webhooks[i].State; s != WebhookPending {
			return nil // called or replied meanwhile (a duplicate): nothing to fail
		}
		w := &DeliveryWrite{State: WebhookFailed, To: r.Status, Attempts: max(r.Webhooks[i].Attempts+1, attempt)}
		w.Activity = []ActivityEntry{{At: at, Action: ActionWebhookFailed, WebhookKey: d.WebhookKey,
			Message: fmt.Sprintf("Pre-approval webhook '%s' failed after %d attempts: %s", r.Webhooks[i].Name, w.Attempts, res.Reason)}}
		if r.Status == StatusAwaitingPreApproval {
			w.To, _ = Next(r.Status, EventDeliveryFailed)
			w.Activity = append(w.Activity, ActivityEntry{At: at, Action: ActionStatusChanged, WebhookKey: d.WebhookKey,
				Message: fmt.Sprintf("Status changed from %s to %s", r.Status, w.To)})
		}
		return w
	})
}

// skipReason says why no call should be made, or "" to call.
func skipReason(r *PrivacyRequest, key string) string {
	switch r.Status {
	case StatusAwaitingPreApproval, StatusPending, StatusPreApprovalNotEligible:
	default:
		return "privacy request is " + string(r.Status)
	}
	i := webhookIndex(r, key)
	if i < 0 {
		return "webhook not in the request's snapshot"
	}
	switch r.Webhooks[i].State {
	case WebhookCalled, WebhookEligible, WebhookNotEligible:
		return "webhook already " + string(r.Webhooks[i].State)
	case WebhookFailed:
		return "webhook delivery already failed"
	}
	return ""
}

func webhookIndex(r *PrivacyRequest, key string) int {
	for i, w := range r.Webhooks {
		if w.Key == key {
			return i
		}
	}
	return -1
}

// record re-reads the request and writes what decide returns (nil: nothing),
// re-deciding when another write won the race.
func (u *Dispatcher) record(ctx context.Context, d Delivery, decide func(r *PrivacyRequest, i int, at time.Time) *DeliveryWrite) error {
	for range maxDeliveryRetries {
		r, err := u.Store.Get(ctx, d.PrivacyRequestID)
		if err != nil {
			return err
		}
		i := webhookIndex(r, d.WebhookKey)
		if i < 0 {
			return nil
		}
		at := u.Now().UTC().Truncate(time.Microsecond)
		w := decide(r, i, at)
		if w == nil {
			return nil
		}
		w.ID, w.Version, w.WebhookKey, w.WebhookIndex, w.At = r.ID, r.Version, d.WebhookKey, i, at
		err = u.Store.RecordDelivery(ctx, *w)
		var conflict *ConflictError
		if errors.As(err, &conflict) {
			continue
		}
		return err
	}
	return &ConflictError{Msg: "too many concurrent changes to privacy request " + d.PrivacyRequestID}
}

// retryDelay is backoff·2^(attempt-1), between half and all of it (jitter), capped.
func (u *Dispatcher) retryDelay(attempt int) time.Duration {
	d := u.Backoff
	for i := 1; i < attempt && d < MaxRetryDelay; i++ {
		d *= 2
	}
	d = min(d, MaxRetryDelay)
	rnd := u.Rand
	if rnd == nil {
		rnd = rand.Float64
	}
	return d/2 + time.Duration(rnd()*float64(d/2))
}

// callBody is SPEC §4's body.
type callBody struct {
	PrivacyRequestID     string          `json:"privacy_request_id"`
	PrivacyRequestStatus Status          `json:"privacy_request_status"`
	Direction            string          `json:"direction"`
	CallbackType         string          `json:"callback_type"`
	Identity             callIdentity    `json:"identity"`
	PolicyAction         string          `json:"policy_action"`
	PrivacyRequest       callRequestBody `json:"privacy_request"`
	Timestamp            string          `json:"timestamp"`
}

type callIdentity struct {
	Email       *string `json:"email"`
	PhoneNumber *string `json:"phone_number"`
}

type callRequestBody struct {
	ID                 string     `json:"id"`
	Status             Status     `json:"status"`
	ExternalID         *string    `json:"external_id"`
	RequestedAt        string     `json:"requested_at"`
	IdentityVerifiedAt *string    `json:"identity_verified_at"`
	Policy             callPolicy `json:"policy"`
}

type callPolicy struct {
	Key   string     `json:"key"`
	Name  string     `json:"name"`
	Rules []callRule `json:"rules"`
}

type callRule struct {
	ActionType string `json:"action_type"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// buildCall returns the headers and body of SPEC §4.
func (u *Dispatcher) buildCall(r *PrivacyRequest, d Delivery, t DeliveryTarget, now time.Time) (http.Header, []byte, error) {
	b := callBody{
		PrivacyRequestID: r.ID, PrivacyRequestStatus: r.Status, Direction: "two_way", CallbackType: "pre_approval",
		Identity:     callIdentity{Email: optString(r.Identity.Email), PhoneNumber: optString(r.Identity.PhoneNumber)},
		PolicyAction: r.PolicyAction,
		PrivacyRequest: callRequestBody{
			ID: r.ID, Status: r.Status, ExternalID: optString(r.ExternalID), RequestedAt: FormatTime(r.CreatedAt),
			Policy: callPolicy{Key: r.PolicyKey, Name: PolicyNames[r.PolicyKey], Rules: []callRule{{ActionType: r.PolicyAction}}},
		},
		Timestamp: FormatTime(now),
	}
	if r.IdentityVerifiedAt != nil {
		b.PrivacyRequest.IdentityVerifiedAt = optString(FormatTime(*r.IdentityVerifiedAt))
	}
	if b.PrivacyRequest.Policy.Name == "" {
		b.PrivacyRequest.Policy.Name = r.PolicyKey
	}
	body, err := json.Marshal(b)
	if err != nil {
		return nil, nil, fmt.Errorf("encode call body: %w", err)
	}
	token, err := u.Tokens.Mint(d.WebhookKey, r.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("mint reply token: %w", err)
	}
	h := http.Header{}
	for k, v := range t.Headers {
		h.Set(k, v)
	}
	eligible := "/privacy-request/" + r.ID + "/pre-approve/eligible"
	notEligible := "/privacy-request/" + r.ID + "/pre-approve/not-eligible"
	h.Set("Content-Type", "application/json")
	h.Set("Authorization", t.Authorization)
	h.Set("reply-to-eligible", eligible)
	h.Set("reply-to-not-eligible", notEligible)
	h.Set("reply-to-approve", eligible)
	h.Set("reply-to-deny", notEligible)
	h.Set("reply-to-token", token)
	h.Set("reply-to-base-url", u.BaseURL)
	h.Set("webhook-id", d.ID)
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	// One signature per secret kept (the new and the previous one after a
	// rotation), space-separated as Standard Webhooks says, so a validator
	// still holding the previous secret verifies the call until it updates.
	if len(t.SigningSecrets) > 0 && u.Sign != nil {
		sigs := make([]string, len(t.SigningSecrets))
		for i, secret := range t.SigningSecrets {
			if sigs[i], err = u.Sign(secret, d.ID, now, body); err != nil {
				return nil, nil, fmt.Errorf("sign call of webhook %q: %w", d.WebhookKey, err)
			}
		}
		h.Set("webhook-signature", strings.Join(sigs, " "))
	}
	return h, body, nil
}
