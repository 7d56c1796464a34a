package gate

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Webhook is a configured pre-approval webhook: a named link to one connection.
type Webhook struct {
	Key           string
	Name          string
	ConnectionKey string
	// PolicyActions are the policy actions whose requests call the webhook
	// (its scope), in ScopeActions' order; none is every action.
	PolicyActions []string
	// Mode is ModeEnforce or ModeShadow.
	Mode      WebhookMode
	CreatedAt time.Time
	UpdatedAt time.Time
}

// WebhookMode says whether a webhook's replies decide requests.
type WebhookMode string

// The modes of a webhook. A shadow webhook is called like any other and its
// replies and failures are recorded, but it never decides a request and
// nothing waits for it: a new validator is observed before it can hold anything.
const (
	ModeEnforce WebhookMode = "enforce"
	ModeShadow  WebhookMode = "shadow"
)

// parseMode reads a mode as the API takes it: nil is ModeEnforce.
func parseMode(in *string, loc ...any) (WebhookMode, *FieldError) {
	switch {
	case in == nil || *in == string(ModeEnforce):
		return ModeEnforce, nil
	case *in == string(ModeShadow):
		return ModeShadow, nil
	}
	return "", &FieldError{Loc: loc, Msg: "value is not a valid enumeration member; permitted: 'enforce', 'shadow'", Type: "type_error.enum"}
}

// ScopeActions are the policy actions a webhook may be scoped to, and a
// webhook's scope when none is given. Consent requests are approved
// without webhooks, so they are not among them.
var ScopeActions = []string{"access", "erasure", "update"}

// Applies reports whether requests of policy action action call w.
func (w Webhook) Applies(action string) bool {
	return len(w.PolicyActions) == 0 || slices.Contains(w.PolicyActions, action)
}

// InScope returns the webhooks of hooks that requests of action call, in order.
func InScope(hooks []Webhook, action string) []Webhook {
	var out []Webhook
	for _, h := range hooks {
		if h.Applies(action) {
			out = append(out, h)
		}
	}
	return out
}

// Enforced returns the webhooks of hooks in enforce mode, in order: those
// whose replies decide requests.
func Enforced(hooks []Webhook) []Webhook {
	var out []Webhook
	for _, h := range hooks {
		if h.Mode != ModeShadow {
			out = append(out, h)
		}
	}
	return out
}

// parsePolicyActions reads a scope as the API takes it: nil is every
// action; a repeated action counts once; the result is in ScopeActions' order.
func parsePolicyActions(in *[]string, loc ...any) ([]string, *FieldError) {
	if in == nil {
		return slices.Clone(ScopeActions), nil
	}
	if len(*in) == 0 {
		return nil, &FieldError{Loc: loc, Msg: "ensure this value has at least 1 items", Type: "value_error.list.min_items"}
	}
	for i, a := range *in {
		if !slices.Contains(ScopeActions, a) {
			return nil, &FieldError{Loc: append(slices.Clone(loc), i), Msg: fmt.Sprintf("unknown policy action '%s'; permitted: 'access', 'erasure', 'update'", a), Type: "type_error.enum"}
		}
	}
	var out []string
	for _, a := range ScopeActions {
		if slices.Contains(*in, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// WebhookConfig is the configured pre-approval webhooks as read, and the
// version of the configuration they are (it grows with every change).
type WebhookConfig struct {
	Version  int64
	Webhooks []Webhook
}

// WebhookLister reads the configured pre-approval webhooks. Submission takes
// its snapshot from ListWebhooks; replies use WebhooksSince to ignore the
// webhooks of the snapshot deleted since.
type WebhookLister interface {
	// ListWebhooks reads the configuration as it is now: every change
	// completed before the call is in it.
	ListWebhooks(ctx context.Context) (WebhookConfig, error)
	// WebhooksSince reads the configuration at version since or later. It
	// may be a little stale (an instance keeps what it read for a few
	// seconds), but never older than since: so, given the version a
	// request's snapshot was taken from, a webhook of the snapshot missing
	// from it was deleted since the snapshot, and one deleted since may
	// still be listed, which makes an approval wait for its reply, never
	// go ahead without it.
	WebhooksSince(ctx context.Context, since int64) ([]Webhook, error)
}
