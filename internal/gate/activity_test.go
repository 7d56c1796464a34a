package gate

import (
	"testing"
	"time"
)

// line is a timeline entry as the API shows it.
type line struct{ action, message, webhookKey string }

func lineOf(e ActivityEntry) line { return line{e.Action(), e.Message(), e.WebhookKey()} }

// Every kind renders Fides' text from its facts, one row per kind; a kind
// added to the table without a row here fails.
func TestActivityTexts(t *testing.T) {
	a := Mention{Index: 0, Key: "crm", Name: "CRM"}
	b := Mention{Index: 2, Key: "billing", Name: "Billing, EU"}
	s := Mention{Index: 1, Key: "fraud", Name: "Fraud", Shadow: true}
	rendered := map[ActivityKind]bool{}
	for _, tc := range []struct {
		entry ActivityEntry
		want  line
	}{
		{ActivityEntry{Kind: KindCodeSent}, line{"status_changed", "Request submitted: identity verification code sent", ""}},
		{ActivityEntry{Kind: KindIdentityVerified}, line{"identity_verified", "Identity verified", ""}},
		{ActivityEntry{Kind: KindNoManualApproval}, line{"approved", "Request auto-approved: manual approval not required", ""}},
		{ActivityEntry{Kind: KindAwaitingReview}, line{"status_changed", "Request submitted: awaiting manual review", ""}},
		{ActivityEntry{Kind: KindTriggered, Hooks: []Mention{a, b}}, line{"pre_approval_webhook_triggered", "Triggered pre-approval webhooks: CRM, Billing, EU", ""}},
		{ActivityEntry{Kind: KindTriggered, Hooks: []Mention{a, s}}, line{"pre_approval_webhook_triggered", "Triggered pre-approval webhooks: CRM, Fraud (shadow)", ""}},
		{ActivityEntry{Kind: KindCalled, Hooks: []Mention{b}, HTTPStatus: 204}, line{"pre_approval_webhook_called", "Called pre-approval webhook 'Billing, EU': HTTP 204", "billing"}},
		{ActivityEntry{Kind: KindFailed, Hooks: []Mention{a}, Attempts: 5, Reason: "HTTP 503"},
			line{"pre_approval_webhook_failed", "Pre-approval webhook 'CRM' failed after 5 attempts: HTTP 503", "crm"}},
		{ActivityEntry{Kind: KindNotCalled, Hooks: []Mention{a}, Reason: "its signing secret could not be opened"},
			line{"pre_approval_webhook_failed", "Pre-approval webhook 'CRM' failed: its signing secret could not be opened", "crm"}},
		{ActivityEntry{Kind: KindFailed, Hooks: []Mention{s}, Attempts: 3, Reason: "timeout"},
			line{"pre_approval_webhook_failed", "Pre-approval webhook 'Fraud' failed after 3 attempts: timeout (shadow, not counted)", "fraud"}},
		{ActivityEntry{Kind: KindNotCalled, Hooks: []Mention{s}, Reason: "connection 'x' has no secrets"},
			line{"pre_approval_webhook_failed", "Pre-approval webhook 'Fraud' failed: connection 'x' has no secrets (shadow, not counted)", "fraud"}},
		{ActivityEntry{Kind: KindFailedToPending, Hooks: []Mention{a}}, line{"status_changed", "Status changed from awaiting_pre_approval to pending", "crm"}},
		{ActivityEntry{Kind: KindDeadlinePassed, Hooks: []Mention{a, b}, Deadline: 72 * time.Hour},
			line{"status_changed", "Review deadline of 72h0m0s passed with no reply from pre-approval webhooks: CRM, Billing, EU", ""}},
		{ActivityEntry{Kind: KindEligible, Hooks: []Mention{a}}, line{"pre_approval_eligible", "Pre-approval webhook 'CRM' responded: eligible", "crm"}},
		{ActivityEntry{Kind: KindNotEligible, Hooks: []Mention{b}},
			line{"pre_approval_not_eligible", "Request flagged for manual review by pre-approval webhooks. Webhook 'Billing, EU' responded: not eligible", "billing"}},
		{ActivityEntry{Kind: KindWebhookRemoved, Hooks: []Mention{b}},
			line{"pre_approval_webhook_removed", "Pre-approval webhook 'Billing, EU' was removed from the configuration and is no longer awaited", "billing"}},
		{ActivityEntry{Kind: KindWebhooksApproved, Hooks: []Mention{a}}, line{"approved", "Request auto-approved by pre-approval webhooks", "crm"}},
		{ActivityEntry{Kind: KindRerun, Actor: "ana"}, line{"status_changed", "Status changed from pending to awaiting_pre_approval: pre-approval re-run", ""}},
		{ActivityEntry{Kind: KindAdminApproved, Actor: "ana"}, line{"approved", "", ""}},
		{ActivityEntry{Kind: KindAdminDenied, Actor: "ana", Reason: "Not our customer"}, line{"denied", "Not our customer", ""}},
		{ActivityEntry{Kind: KindAdminDenied, Actor: "ana"}, line{"denied", "", ""}},
		{ActivityEntry{Kind: KindDeadlineExtended, Actor: "ana", Days: 1, Reason: "identity documents arrive late"},
			line{"deadline_extended", "Deadline extended by 1 day: identity documents arrive late", ""}},
		{ActivityEntry{Kind: KindDeadlineExtended, Actor: "ana", Days: 30, Reason: "complex"}, line{"deadline_extended", "Deadline extended by 30 days: complex", ""}},
		{ActivityEntry{Kind: KindNoWebhookInScope, PolicyAction: "erasure"}, line{"status_changed", "No pre-approval webhook applies to erasure requests", ""}},
		{ActivityEntry{Kind: KindShadowEligible, Hooks: []Mention{s}}, line{"pre_approval_shadow_reply", "Shadow webhook 'Fraud' responded: eligible", "fraud"}},
		{ActivityEntry{Kind: KindShadowNotEligible, Hooks: []Mention{s}}, line{"pre_approval_shadow_reply", "Shadow webhook 'Fraud' responded: not eligible", "fraud"}},
	} {
		if got := lineOf(tc.entry); got != tc.want {
			t.Errorf("kind %d: %+v, want %+v", tc.entry.Kind, got, tc.want)
		}
		rendered[tc.entry.Kind] = true
	}
	for k := range activityTexts {
		if !rendered[k] || !k.Known() {
			t.Errorf("kind %d has no row in this test", k)
		}
	}
	if ActivityKind(0).Known() || ActivityKind(0).Action() != "" || (ActivityEntry{}).Message() != "" {
		t.Error("kind 0 is no kind")
	}
}

// The rows whose text names a move say the move the state machine makes.
func TestActivityMovesFollowTheStateMachine(t *testing.T) {
	for kind, move := range map[ActivityKind]struct {
		from   Status
		ev     Event
		suffix string
	}{KindFailedToPending: {StatusAwaitingPreApproval, EventDeliveryFailed, ""}, KindRerun: {StatusPending, EventRetryPreApproval, ": pre-approval re-run"}} {
		to, err := Next(move.from, move.ev)
		want := "Status changed from " + string(move.from) + " to " + string(to) + move.suffix
		if got := (ActivityEntry{Kind: kind}).Message(); err != nil || got != want {
			t.Errorf("kind %d says %q; %s on %s goes to %s (%v)", kind, got, move.ev, move.from, to, err)
		}
	}
}
