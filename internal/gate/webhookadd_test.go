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

// Adding webhooks one at a time keeps every other, and refuses a key or
// name already used, a missing connection and a 51st webhook.
func TestAddWebhookKeepsTheOthers(t *testing.T) {
	ctx := context.Background()
	store := newMemConfig()
	store.conns["c"] = Connection{Key: "c", Version: 1}
	store.secrets["c"], _ = json.Marshal(Secrets{URL: "https://c.example", Authorization: "x"})
	issued := 0
	a := &Admin{Store: store, Sealer: plainSealer{}, Now: time.Now, NewSigningSecret: func() (string, error) {
		issued++
		return fmt.Sprintf("whsec_%d", issued), nil
	}}
	add := func(name string) (WebhookView, error) {
		return a.AddWebhook(ctx, WebhookInput{Name: ptr(name), ConnectionConfigKey: ptr("c")})
	}
	for i, name := range []string{"CRM check", "Ticketing check"} {
		v, err := add(name)
		if err != nil || v.SigningSecret != fmt.Sprintf("whsec_%d", i+1) || v.Connection == nil {
			t.Fatalf("add %s: %+v %v", name, v, err)
		}
	}
	var keys []string
	for _, w := range store.set.Webhooks {
		keys = append(keys, w.Key)
	}
	if !slices.Equal(keys, []string{"crm_check", "ticketing_check"}) {
		t.Fatalf("set after two adds: %v", keys)
	}
	var bad *BadRequestError
	if _, err := add("CRM check"); !errors.As(err, &bad) {
		t.Errorf("same name again: %v", err)
	}
	if _, err := a.AddWebhook(ctx, WebhookInput{Key: ptr("crm_check"), Name: ptr("Other"), ConnectionConfigKey: ptr("c")}); !errors.As(err, &bad) {
		t.Errorf("same key again: %v", err)
	}
	var nf *NotFoundError
	if _, err := a.AddWebhook(ctx, WebhookInput{Name: ptr("X"), ConnectionConfigKey: ptr("nope")}); !errors.As(err, &nf) {
		t.Errorf("unknown connection: %v", err)
	}
	var val *ValidationError
	if _, err := a.AddWebhook(ctx, WebhookInput{Name: ptr(" "), ConnectionConfigKey: ptr("c")}); !errors.As(err, &val) || val.Fields[0].Loc[1] != "name" {
		t.Errorf("blank name: %v", err)
	}
	for i := len(store.set.Webhooks); i < maxConfigBatch; i++ {
		if _, err := add(fmt.Sprintf("W %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := add("One too many"); !errors.As(err, &bad) {
		t.Errorf("a 51st webhook: %v", err)
	}
}
