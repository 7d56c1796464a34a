package gate

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func rolloutAdmin(t *testing.T) (*Admin, *memConfig) {
	t.Helper()
	store := newMemConfig()
	store.conns["c"] = Connection{Key: "c", Version: 1}
	store.secrets["c"], _ = json.Marshal(Secrets{URL: "https://c.example", Authorization: "x"})
	return &Admin{Store: store, Sealer: plainSealer{}, Now: time.Now, NewSigningSecret: func() (string, error) { return "whsec_x", nil }}, store
}

// A scope is set on PUT (omitted: every action), on add and on PATCH
// (omitted: kept); a bad one is a 422 at its place and changes nothing.
func TestWebhookScope(t *testing.T) {
	ctx := context.Background()
	a, store := rolloutAdmin(t)
	vs, err := a.ReplaceWebhooks(ctx, []WebhookInput{
		{Key: ptr("plain"), Name: ptr("Plain"), ConnectionConfigKey: ptr("c")},
		{Key: ptr("fraud"), Name: ptr("Fraud"), ConnectionConfigKey: ptr("c"), PolicyActions: ptr([]string{"update", "erasure", "erasure"})},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(vs[0].PolicyActions, ScopeActions) {
		t.Fatalf("default: %v", vs[0].PolicyActions)
	}
	if !slices.Equal(vs[1].PolicyActions, []string{"erasure", "update"}) {
		t.Fatalf("given: %v", vs[1].PolicyActions)
	}

	v, err := a.PatchWebhook(ctx, "fraud", WebhookInput{Name: ptr("Fraud check")})
	if err != nil || !slices.Equal(v.PolicyActions, []string{"erasure", "update"}) {
		t.Fatalf("patch of the name: %+v, %v", v.Webhook, err)
	}
	v, err = a.PatchWebhook(ctx, "fraud", WebhookInput{PolicyActions: ptr([]string{"access"})})
	if err != nil || !slices.Equal(v.PolicyActions, []string{"access"}) {
		t.Fatalf("patch of the scope: %+v, %v", v.Webhook, err)
	}
	added, err := a.AddWebhook(ctx, WebhookInput{Name: ptr("Late"), ConnectionConfigKey: ptr("c")})
	if err != nil || !slices.Equal(added.PolicyActions, ScopeActions) {
		t.Fatalf("add: %+v, %v", added.Webhook, err)
	}

	before := store.set.Version
	for _, c := range []struct {
		name string
		call func() error
		loc  []any
	}{
		{"PUT, unknown action", func() error {
			_, err := a.ReplaceWebhooks(ctx, []WebhookInput{{Key: ptr("x"), Name: ptr("X"), ConnectionConfigKey: ptr("c"), PolicyActions: ptr([]string{"access", "consent"})}})
			return err
		}, []any{"body", 0, "policy_actions", 1}},
		{"add, empty scope", func() error {
			_, err := a.AddWebhook(ctx, WebhookInput{Name: ptr("X"), ConnectionConfigKey: ptr("c"), PolicyActions: ptr([]string{})})
			return err
		}, []any{"body", "policy_actions"}},
		{"PATCH, unknown action", func() error {
			_, err := a.PatchWebhook(ctx, "plain", WebhookInput{PolicyActions: ptr([]string{"delete"})})
			return err
		}, []any{"body", "policy_actions", 0}},
	} {
		var v *ValidationError
		if err := c.call(); !errors.As(err, &v) || !slices.Equal(v.Fields[0].Loc, c.loc) {
			t.Errorf("%s: %v, want a 422 at %v", c.name, err, c.loc)
		}
	}
	if store.set.Version != before {
		t.Fatal("a refused change wrote the webhook set")
	}
}

// A request's snapshot takes only the webhooks in scope for its action; with
// none in scope it waits for an admin as with no webhook at all.
func TestSnapshotTakesWebhooksInScope(t *testing.T) {
	u := &Requests{RequireManualApproval: true}
	hooks := []Webhook{
		{Key: "all", Name: "All", PolicyActions: ScopeActions},
		{Key: "erase", Name: "Erase", PolicyActions: []string{"erasure"}},
	}
	now := time.Now()
	ev, snap, _ := u.admission("erasure", WebhookConfig{Webhooks: hooks}, now)
	if ev != EventAwaitWebhooks || len(snap) != 2 {
		t.Fatalf("erasure: %v, %d webhooks", ev, len(snap))
	}
	ev, snap, _ = u.admission("access", WebhookConfig{Webhooks: hooks}, now)
	if ev != EventAwaitWebhooks || len(snap) != 1 || snap[0].Key != "all" {
		t.Fatalf("access: %v, %+v", ev, snap)
	}
	ev, snap, _ = u.admission("access", WebhookConfig{Webhooks: hooks[1:]}, now)
	if ev != EventAwaitReview || len(snap) != 0 {
		t.Fatalf("access, none in scope: %v, %+v", ev, snap)
	}
}

// A test call of a webhook whose connection has no secrets (a webhook set
// written before the check) is a 422 that says what to set, and sends nothing.
func TestTestCallWithoutSecrets(t *testing.T) {
	ctx := context.Background()
	a, store := rolloutAdmin(t)
	store.conns["bare"] = Connection{Key: "bare", Version: 1}
	store.set = WebhookSet{Version: 1, Webhooks: []StoredWebhook{{Webhook: Webhook{Key: "w", Name: "W", ConnectionKey: "bare"}}}}
	u := &WebhookTests{Admin: a, Now: time.Now} // no store, no queue: nothing may be written or sent
	_, err := u.Send(ctx, "w")
	var v *ValidationError
	if !errors.As(err, &v) || !strings.Contains(v.Fields[0].Msg, "PUT /connection/bare/secret") {
		t.Fatalf("test call without secrets: %v", err)
	}
	var nf *NotFoundError
	if _, err := u.Send(ctx, "ghost"); !errors.As(err, &nf) {
		t.Fatalf("test call of an unknown webhook: %v", err)
	}
}
