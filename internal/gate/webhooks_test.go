package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// A rotated-out signing secret signs for 24 h after the rotation that
// replaced it, and no longer; rotating again within that day keeps it.
func TestRotatedSigningSecretSignsFor24Hours(t *testing.T) {
	ctx := context.Background()
	store := newMemConfig()
	store.conns["c"] = Connection{Key: "c", Version: 1}
	store.secrets["c"], _ = json.Marshal(Secrets{URL: "https://c.example", Authorization: "x"})
	t0 := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	now := t0
	clock := func() time.Time { return now }
	issued := 0
	a := &Admin{Store: store, Sealer: plainSealer{}, Now: clock, NewSigningSecret: func() (string, error) {
		issued++
		return fmt.Sprintf("whsec_%d", issued), nil
	}}
	// TTL 0: every lookup reads the set, as a dispatcher after DISPATCH_CONFIG_TTL would.
	cache := &TargetCache{Admin: a, TTL: 0, Now: clock}
	signing := func(at time.Duration, want ...string) {
		t.Helper()
		now = t0.Add(at)
		got := cache.DeliveryTargets(ctx, []string{"w"})["w"]
		if got.Err != nil || !slices.Equal(got.Target.SigningSecrets, want) {
			t.Fatalf("at +%v: signing with %v (%v), want %v", at, got.Target.SigningSecrets, got.Err, want)
		}
	}
	rotate := func(at time.Duration, want string) {
		t.Helper()
		now = t0.Add(at)
		v, err := a.RotateSigningSecret(ctx, "w")
		if err != nil || v.SigningSecret != want {
			t.Fatalf("rotation at +%v: %q, %v", at, v.SigningSecret, err)
		}
	}
	stored := func() int { return len(store.set.Webhooks[0].SigningSecrets) }

	if _, err := a.ReplaceWebhooks(ctx, []WebhookInput{{Key: ptr("w"), Name: ptr("W"), ConnectionConfigKey: ptr("c")}}); err != nil {
		t.Fatal(err)
	}
	signing(0, "whsec_1")
	rotate(time.Hour, "whsec_2")
	signing(time.Hour, "whsec_2", "whsec_1")
	signing(24*time.Hour, "whsec_2", "whsec_1")
	signing(25*time.Hour-time.Second, "whsec_2", "whsec_1")
	signing(25*time.Hour+time.Second, "whsec_2")

	// Two rotations within a day: all three sign; each retired one for its own day.
	rotate(30*time.Hour, "whsec_3")
	if n := stored(); n != 2 {
		t.Fatalf("after the third secret: %d stored, want 2 (whsec_1 expired)", n)
	}
	rotate(31*time.Hour, "whsec_4")
	if n := stored(); n != 3 {
		t.Fatalf("two rotations within 24 h: %d stored, want 3", n)
	}
	signing(31*time.Hour, "whsec_4", "whsec_3", "whsec_2")
	signing(54*time.Hour+time.Second, "whsec_4", "whsec_3")
	signing(55*time.Hour+time.Second, "whsec_4")

	// A burst of rotations keeps at most maxSigningSecrets, newest first.
	for i := range 2 * maxSigningSecrets {
		rotate(56*time.Hour, fmt.Sprintf("whsec_%d", 5+i))
	}
	want := []string{}
	for i := range maxSigningSecrets {
		want = append(want, fmt.Sprintf("whsec_%d", 4+2*maxSigningSecrets-i))
	}
	signing(56*time.Hour, want...)
}

// A webhook on a connection without secrets could never be called: PUT and
// PATCH refuse it with 422 naming the field, and change nothing.
func TestWebhookOnAConnectionWithoutSecretsIsRefused(t *testing.T) {
	ctx := context.Background()
	store := newMemConfig()
	store.conns["bare"] = Connection{Key: "bare", Version: 1}
	store.conns["c"] = Connection{Key: "c", Version: 1}
	store.secrets["c"], _ = json.Marshal(Secrets{URL: "https://c.example", Authorization: "x"})
	a := &Admin{Store: store, Sealer: plainSealer{}, Now: time.Now, NewSigningSecret: func() (string, error) { return "whsec_1", nil }}
	str := func(s string) *string { return &s }
	check := func(what string, err error, loc string) {
		t.Helper()
		var ve *ValidationError
		if !errors.As(err, &ve) || fmt.Sprint(ve.Fields[0].Loc) != loc || ve.Fields[0].Type != "value_error.missing_secrets" {
			t.Fatalf("%s: %v, want a 422 at %s", what, err, loc)
		}
	}
	_, err := a.ReplaceWebhooks(ctx, []WebhookInput{{Name: str("Ok"), ConnectionConfigKey: str("c")}, {Name: str("Bare"), ConnectionConfigKey: str("bare")}})
	check("PUT", err, "[body 1 connection_config_key]")
	if len(store.set.Webhooks) != 0 {
		t.Fatalf("PUT wrote %+v", store.set.Webhooks)
	}
	if _, err := a.ReplaceWebhooks(ctx, []WebhookInput{{Key: str("w"), Name: str("W"), ConnectionConfigKey: str("c")}}); err != nil {
		t.Fatal(err)
	}
	_, err = a.PatchWebhook(ctx, "w", WebhookInput{ConnectionConfigKey: str("bare")})
	check("PATCH", err, "[body connection_config_key]")
	if store.set.Webhooks[0].ConnectionKey != "c" {
		t.Fatalf("PATCH moved the webhook: %+v", store.set.Webhooks[0])
	}
}
