package gate

import (
	"fmt"
	"strings"
	"time"
)

// The timeline actions the API shows (docs/admin.md, "Timeline texts").
const (
	ActionWebhookTriggered = "pre_approval_webhook_triggered"
	ActionWebhookCalled    = "pre_approval_webhook_called"
	ActionWebhookFailed    = "pre_approval_webhook_failed"
	ActionEligible         = "pre_approval_eligible"
	ActionNotEligible      = "pre_approval_not_eligible"
	ActionApproved         = "approved"
	ActionDenied           = "denied"
	ActionIdentityVerified = "identity_verified"
	ActionStatusChanged    = "status_changed"
	ActionWebhookRemoved   = "pre_approval_webhook_removed"
	ActionDeadlineExtended = "deadline_extended"
	ActionShadowReply      = "pre_approval_shadow_reply"
)

// ActivityKind is what one timeline entry records. Storage keeps the kind
// and the entry's facts; the action and the message the API shows are made
// from them when read, by the one table activityTexts. Its values are
// stored: a new kind takes a new number, and a number is never reused.
type ActivityKind uint8

// The kinds of timeline entries.
const (
	KindCodeSent          ActivityKind = 1  // submitted, identity verification required
	KindIdentityVerified  ActivityKind = 2  // the right code
	KindNoManualApproval  ActivityKind = 3  // admitted and approved at once
	KindAwaitingReview    ActivityKind = 4  // admitted with no webhook: pending
	KindTriggered         ActivityKind = 5  // admitted with webhooks (Hooks: all of the snapshot)
	KindCalled            ActivityKind = 6  // a call answered 2xx (Hooks[0], HTTPStatus)
	KindFailed            ActivityKind = 7  // the last attempt failed (Hooks[0], Attempts, Reason)
	KindNotCalled         ActivityKind = 8  // the webhook could not be called, for a reason of ours (Hooks[0], Reason)
	KindFailedToPending   ActivityKind = 9  // right after a failure, awaiting to pending (Hooks[0]: the failed one)
	KindDeadlinePassed    ActivityKind = 10 // the review deadline moved the request to pending (Hooks: the silent ones, Deadline)
	KindEligible          ActivityKind = 11 // an eligible reply (Hooks[0])
	KindNotEligible       ActivityKind = 12 // a not-eligible reply (Hooks[0])
	KindWebhookRemoved    ActivityKind = 13 // an approval went ahead without a deleted webhook (Hooks[0])
	KindWebhooksApproved  ActivityKind = 14 // the last configured webhook replied eligible (Hooks[0]: that one)
	KindRerun             ActivityKind = 15 // an admin re-ran pre-approval (Actor)
	KindAdminApproved     ActivityKind = 16 // an admin approved (Actor)
	KindAdminDenied       ActivityKind = 17 // an admin denied (Actor, Reason)
	KindDeadlineExtended  ActivityKind = 18 // an admin extended the due date (Actor, Days, Reason)
	KindNoWebhookInScope  ActivityKind = 19 // admitted with webhooks, no enforce one in scope for its action: pending (PolicyAction)
	KindShadowEligible    ActivityKind = 20 // a shadow webhook's eligible reply, which decides nothing (Hooks[0])
	KindShadowNotEligible ActivityKind = 21 // a shadow webhook's not-eligible reply, which decides nothing (Hooks[0])
)

// ActivityEntry is one line of a request's timeline, stored as facts.
type ActivityEntry struct {
	At   time.Time
	Kind ActivityKind
	// Hooks are the webhooks of the run's snapshot the entry is about, in
	// the order its message names them. Storage keeps only their index in
	// the snapshot (docs/internals/storage.md); reads give back key and name.
	Hooks      []Mention
	HTTPStatus int
	// Latency and BodySHA256 are a call's evidence (KindCalled): how long
	// the validator took to answer, and the SHA-256 of the body sent.
	Latency    time.Duration
	BodySHA256 []byte
	Attempts   int
	Reason     string // a failure's reason, or an admin's deny reason
	// Deadline is the REVIEW_DEADLINE that passed (KindDeadlinePassed).
	Deadline time.Duration
	// Days is how many days an extension added (KindDeadlineExtended).
	Days int
	// PolicyAction is the request's action no webhook applies to (KindNoWebhookInScope).
	PolicyAction string
	Actor        string
}

// Mention is one webhook of the snapshot of the pre-approval run an entry
// belongs to: its index there, its key, its name and whether it was a
// shadow webhook there.
type Mention struct {
	Index     int
	Key, Name string
	Shadow    bool
}

// activityText is how the API shows one kind: its action, whether the
// entry's webhook_key is its first webhook's key, and its message ("" is
// shown as null).
type activityText struct {
	action  string
	keyed   bool
	message func(e ActivityEntry) string
}

// activityTexts is the one table of the timeline's texts (Fides' wording,
// docs/admin.md, "Timeline texts").
var activityTexts = map[ActivityKind]activityText{
	KindCodeSent:         {ActionStatusChanged, false, fixed("Request submitted: identity verification code sent")},
	KindIdentityVerified: {ActionIdentityVerified, false, fixed("Identity verified")},
	KindNoManualApproval: {ActionApproved, false, fixed("Request auto-approved: manual approval not required")},
	KindAwaitingReview:   {ActionStatusChanged, false, fixed("Request submitted: awaiting manual review")},
	KindTriggered: {ActionWebhookTriggered, false, func(e ActivityEntry) string {
		return "Triggered pre-approval webhooks: " + e.names(shadowMark)
	}},
	KindCalled: {ActionWebhookCalled, true, func(e ActivityEntry) string {
		return fmt.Sprintf("Called pre-approval webhook '%s': HTTP %d", e.name(), e.HTTPStatus)
	}},
	KindFailed: {ActionWebhookFailed, true, func(e ActivityEntry) string {
		return fmt.Sprintf("Pre-approval webhook '%s' failed after %d attempts: %s", e.name(), e.Attempts, e.Reason) + e.notCounted()
	}},
	KindNotCalled: {ActionWebhookFailed, true, func(e ActivityEntry) string {
		return fmt.Sprintf("Pre-approval webhook '%s' failed: %s", e.name(), e.Reason) + e.notCounted()
	}},
	KindFailedToPending: {ActionStatusChanged, true,
		fixed(fmt.Sprintf("Status changed from %s to %s", StatusAwaitingPreApproval, StatusPending))},
	KindDeadlinePassed: {ActionStatusChanged, false, func(e ActivityEntry) string {
		return fmt.Sprintf("Review deadline of %s passed with no reply from pre-approval webhooks: %s", e.Deadline, e.names(""))
	}},
	KindEligible: {ActionEligible, true, func(e ActivityEntry) string {
		return fmt.Sprintf("Pre-approval webhook '%s' responded: eligible", e.name())
	}},
	KindNotEligible: {ActionNotEligible, true, func(e ActivityEntry) string {
		return fmt.Sprintf("Request flagged for manual review by pre-approval webhooks. Webhook '%s' responded: not eligible", e.name())
	}},
	KindWebhookRemoved: {ActionWebhookRemoved, true, func(e ActivityEntry) string {
		return fmt.Sprintf("Pre-approval webhook '%s' was removed from the configuration and is no longer awaited", e.name())
	}},
	KindWebhooksApproved: {ActionApproved, true, fixed("Request auto-approved by pre-approval webhooks")},
	KindRerun: {ActionStatusChanged, false,
		fixed(fmt.Sprintf("Status changed from %s to %s: pre-approval re-run", StatusPending, StatusAwaitingPreApproval))},
	KindAdminApproved: {ActionApproved, false, fixed("")},
	KindAdminDenied:   {ActionDenied, false, func(e ActivityEntry) string { return e.Reason }},
	KindDeadlineExtended: {ActionDeadlineExtended, false, func(e ActivityEntry) string {
		return ExtensionMessage(e.Days, e.Reason)
	}},
	KindNoWebhookInScope: {ActionStatusChanged, false, func(e ActivityEntry) string {
		return fmt.Sprintf("No pre-approval webhook applies to %s requests", e.PolicyAction)
	}},
	KindShadowEligible: {ActionShadowReply, true, func(e ActivityEntry) string {
		return fmt.Sprintf("Shadow webhook '%s' responded: eligible", e.name())
	}},
	KindShadowNotEligible: {ActionShadowReply, true, func(e ActivityEntry) string {
		return fmt.Sprintf("Shadow webhook '%s' responded: not eligible", e.name())
	}},
}

// shadowMark follows a shadow webhook's name where the timeline lists a
// run's webhooks; notCountedMark ends a shadow webhook's failure.
const (
	shadowMark     = " (shadow)"
	notCountedMark = " (shadow, not counted)"
)

func fixed(msg string) func(ActivityEntry) string { return func(ActivityEntry) string { return msg } }

// Known reports whether k is a kind of the table (a stored entry of any
// other kind is a storage fault).
func (k ActivityKind) Known() bool {
	_, ok := activityTexts[k]
	return ok
}

// Action is the API's action of kind k ("" for an unknown kind).
func (k ActivityKind) Action() string { return activityTexts[k].action }

// Action is the action the API shows for e.
func (e ActivityEntry) Action() string { return e.Kind.Action() }

// Message is the message the API shows for e ("" is shown as null).
func (e ActivityEntry) Message() string {
	t, ok := activityTexts[e.Kind]
	if !ok {
		return ""
	}
	return t.message(e)
}

// WebhookKey is the webhook_key the API shows for e: the key of the one
// webhook an entry about one webhook names, else "".
func (e ActivityEntry) WebhookKey() string {
	if !activityTexts[e.Kind].keyed || len(e.Hooks) == 0 {
		return ""
	}
	return e.Hooks[0].Key
}

func (e ActivityEntry) name() string {
	if len(e.Hooks) == 0 {
		return ""
	}
	return e.Hooks[0].Name
}

// names lists the entry's webhooks, each shadow one followed by mark.
func (e ActivityEntry) names(mark string) string {
	names := make([]string, len(e.Hooks))
	for i, h := range e.Hooks {
		names[i] = h.Name
		if h.Shadow {
			names[i] += mark
		}
	}
	return strings.Join(names, ", ")
}

// notCounted ends the failure of a shadow webhook, which holds nothing.
func (e ActivityEntry) notCounted() string {
	if len(e.Hooks) > 0 && e.Hooks[0].Shadow {
		return notCountedMark
	}
	return ""
}

// hookEntry is an entry of kind k about webhook i of r's snapshot.
func hookEntry(at time.Time, k ActivityKind, r *PrivacyRequest, i int) ActivityEntry {
	h := r.Webhooks[i]
	return ActivityEntry{At: at, Kind: k, Hooks: []Mention{{Index: i, Key: h.Key, Name: h.Name, Shadow: h.Shadow()}}}
}
