package gate

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"
)

// Identity is who the data subject says they are.
type Identity struct {
	Email       string
	PhoneNumber string
}

// WebhookState is how far one webhook of a request's snapshot has got.
type WebhookState string

// The webhook states a request shows. Called and failed are delivery states,
// eligible and not eligible reply states; pending is shown while neither is set.
const (
	WebhookPending     WebhookState = "pending"
	WebhookCalled      WebhookState = "called"
	WebhookFailed      WebhookState = "failed"
	WebhookEligible    WebhookState = "eligible"
	WebhookNotEligible WebhookState = "not_eligible"
)

// SnapshotWebhook is one webhook recorded on a request when it entered
// awaiting_pre_approval. Its delivery (written by the dispatcher) and its
// reply (written by the validator's reply) are separate fields, so that the
// two writers never condition on each other (docs/internals/storage.md).
type SnapshotWebhook struct {
	Key  string
	Name string
	// Mode is the webhook's mode when the snapshot was taken: a shadow
	// webhook's reply never counts toward the request's decision.
	Mode WebhookMode
	// Delivery is how the call ended: "" (not yet), WebhookCalled or WebhookFailed.
	Delivery WebhookState
	Attempts int
	// Reply is the validator's answer: "" (none yet), WebhookEligible or WebhookNotEligible.
	Reply WebhookState
	// RepliedAt is when Reply was recorded (nil while there is none). The
	// API shows only the state, so it serves the logs and investigations.
	RepliedAt *time.Time
}

// Shadow reports whether w is a shadow webhook, which never decides.
func (w SnapshotWebhook) Shadow() bool { return w.Mode == ModeShadow }

// State is the state the API shows: the reply if any, else the delivery, else pending.
func (w SnapshotWebhook) State() WebhookState {
	switch {
	case w.Reply != "":
		return w.Reply
	case w.Delivery != "":
		return w.Delivery
	}
	return WebhookPending
}

// PrivacyRequest is one data subject's request and its whole history.
type PrivacyRequest struct {
	ID                 string
	Status             Status
	PolicyKey          string
	PolicyAction       string
	Identity           Identity
	ExternalID         string
	CreatedAt          time.Time
	UpdatedAt          time.Time
	IdentityVerifiedAt *time.Time
	ReviewedAt         *time.Time
	ReviewedBy         string
	DenyReason         string
	ApprovedAt         *time.Time
	ApprovedBy         string
	Webhooks           []SnapshotWebhook
	// WebhooksVersion is the version of the webhook configuration the
	// snapshot was taken from (WebhookConfig).
	WebhooksVersion int64
	Activity        []ActivityEntry
	// Run counts the admin's re-runs of pre-approval (0: the first run, at
	// most MaxPreApprovalReruns). Deliveries and reply tokens carry the run
	// they were made for; those of an earlier run no longer count.
	Run int
	// DueAt is when the reconciler looks at the request next; nil while
	// nothing is owed to it by the system (see IsDue). The store sets it.
	DueAt *time.Time
	// PublishedAt is when the approval was put on the approved queue.
	PublishedAt *time.Time
	// Publishing is the claim of the publisher sending the approval, until
	// PublishedAt is set (Publisher).
	Publishing *PublishClaim
	// Code is the pending identity verification, while identity_unverified.
	Code *VerificationCode
	// DueDate is when the law wants the request done: created_at plus its
	// policy's execution timeframe, in whole seconds; nil without one.
	DueDate *time.Time
	// Extended is set by the one extension of the due date a request may have.
	Extended bool
	// Hashes are the identity's keyed hashes the search index holds, set
	// at submission (reads leave them empty).
	Hashes IdentityHashes
}

// VerificationCode is the stored trace of a 6-digit code: its hash, never the code.
type VerificationCode struct {
	Hash      string
	ExpiresAt time.Time
	Attempts  int // wrong codes tried so far
}

// Policies maps the default policy keys to their actions.
var Policies = map[string]string{
	"default_access_policy":  "access",
	"default_erasure_policy": "erasure",
	"default_consent_policy": "consent",
	"default_update_policy":  "update",
}

// NewRequestID returns "pri_<uuid4>" from crypto/rand.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("pri_%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Change is one transition of one request, written as one conditional write:
// it applies only while the stored status is still From.
type Change struct {
	ID         string
	From       Status
	To         Status
	At         time.Time
	ReviewedBy string // set with ReviewedAt = At when non-empty
	DenyReason string
	Approved   bool // sets ApprovedAt = At and ApprovedBy = ReviewedBy
	// IdentityVerified sets IdentityVerifiedAt = At and drops the code.
	IdentityVerified bool
	Webhooks         []SnapshotWebhook // replaces the snapshot when non-nil
	WebhooksVersion  int64             // the version the new snapshot was taken from
	// Run, when > 0, sets the request's pre-approval run to Run, and the
	// write then also applies only while the stored run is still Run-1.
	Run      int
	Activity []ActivityEntry
}

// ListQuery selects requests, newest first. After is the sort key of the last
// item of the previous page ("" for the first page).
type ListQuery struct {
	Status Status
	Size   int
	After  string
	// From and To, when set, bound the sort keys: created at From or
	// later, and before To (an export's range).
	From, To string
}

// RequestStore keeps privacy requests.
type RequestStore interface {
	// Create stores a new request; a duplicate id is a *ConflictError.
	Create(ctx context.Context, r *PrivacyRequest) error
	// Get returns a request, or a *NotFoundError.
	Get(ctx context.Context, id string) (*PrivacyRequest, error)
	// Apply writes a change and returns the request after it; a request no
	// longer in c.From is a *ConflictError, a missing one a *NotFoundError.
	Apply(ctx context.Context, c Change) (*PrivacyRequest, error)
	// List returns up to q.Size requests newest first, and the sort key to
	// continue after ("" when there is no more).
	List(ctx context.Context, q ListQuery) ([]*PrivacyRequest, string, error)
	// Discard deletes a request just created, only while it is still
	// identity_unverified with the code it was created with; else a *ConflictError.
	Discard(ctx context.Context, r *PrivacyRequest) error
	// CountCodeTry raises the count of codes tried from seen to seen+1,
	// only while the request is identity_unverified with that count; else a
	// *ConflictError. A code is compared only after its try is counted.
	CountCodeTry(ctx context.Context, id string, seen int) error
}

// RunArchive is kept by a store that moves the timeline of a pre-approval
// run a re-run ends out of the request (so that the request's own record
// stays small): the request then holds the current run's entries only.
type RunArchive interface {
	// ArchivedActivity returns the timeline entries of the first runs runs
	// of request id that the store moved out of it, oldest first.
	ArchivedActivity(ctx context.Context, id string, runs int) ([]ActivityEntry, error)
}

// SortKey orders requests by creation: "<created_at RFC 3339 micro>#<id>".
func SortKey(r *PrivacyRequest) string {
	return FormatTime(r.CreatedAt) + "#" + r.ID
}

// TimeLayout is RFC 3339 UTC with microseconds.
const TimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// FormatTime formats t in TimeLayout, in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }
