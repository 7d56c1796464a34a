package dynamo_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

// The aggregation with shadow webhooks, through the table's conditional
// writes: the snapshot keeps each webhook's mode; a shadow's not-eligible
// reply moves nothing and an enforce eligible reply then approves; a shadow
// reply after the decision is recorded (its write has no status condition)
// without moving the request; a shadow's failure leaves a shadow-only
// pending request where it is. Every timeline text is read back from storage.
func TestShadowAggregationAgainstEmulator(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	store := dynamo.NewRequestStore(dynamodb.NewFromConfig(cfg), s.Resources["RequestsTable"].Ref)
	enforce := gate.Webhook{Key: "crm", Name: "CRM", Mode: gate.ModeEnforce}
	shadow := gate.Webhook{Key: "fraud", Name: "Fraud", Mode: gate.ModeShadow}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	submit := func(hooks staticWebhooks) string {
		t.Helper()
		reqs := &gate.Requests{Store: store, Webhooks: hooks, RequireManualApproval: true, Now: time.Now, NewID: gate.NewRequestID, Log: log}
		res, err := reqs.Submit(ctx, []gate.SubmitItem{{Identity: gate.Identity{Email: "a@example.com"}, PolicyKey: "default_access_policy"}})
		if err != nil || len(res.Succeeded) != 1 {
			t.Fatalf("submit: %+v (%v)", res, err)
		}
		return res.Succeeded[0].ID
	}
	both := staticWebhooks{enforce, shadow}
	replies := &gate.Replies{Store: store, Webhooks: both, Tokens: claimTokens{}, Now: time.Now, Log: log}
	reply := func(id, key string, answer gate.WebhookState) {
		t.Helper()
		if err := replies.Reply(ctx, id+"/"+key, id, answer); err != nil {
			t.Fatalf("%s replies %s: %v", key, answer, err)
		}
	}
	read := func(id string) (*gate.PrivacyRequest, []string) {
		t.Helper()
		r, err := store.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		for _, e := range r.Activity {
			texts = append(texts, e.Message())
		}
		return r, texts
	}

	first := submit(both)
	reply(first, "fraud", gate.WebhookNotEligible)
	if r, _ := read(first); r.Status != gate.StatusAwaitingPreApproval || r.Webhooks[0].Mode != gate.ModeEnforce || !r.Webhooks[1].Shadow() {
		t.Fatalf("after the shadow's not eligible: %s, %+v", r.Status, r.Webhooks)
	}
	reply(first, "crm", gate.WebhookEligible)
	r, texts := read(first)
	want := []string{"Triggered pre-approval webhooks: CRM, Fraud (shadow)", "Shadow webhook 'Fraud' responded: not eligible",
		"Pre-approval webhook 'CRM' responded: eligible", "Request auto-approved by pre-approval webhooks"}
	if r.Status != gate.StatusApproved || !slices.Equal(texts, want) {
		t.Fatalf("status %s, timeline %q; want approved, %q", r.Status, texts, want)
	}

	late := submit(both)
	reply(late, "crm", gate.WebhookEligible)
	reply(late, "fraud", gate.WebhookNotEligible)
	reply(late, "fraud", gate.WebhookNotEligible) // a validator's retry
	r, texts = read(late)
	if r.Status != gate.StatusApproved || r.Webhooks[1].Reply != gate.WebhookNotEligible || len(texts) != 4 ||
		texts[3] != "Shadow webhook 'Fraud' responded: not eligible" {
		t.Fatalf("late shadow reply: %s, %+v, %q", r.Status, r.Webhooks, texts)
	}

	alone := submit(staticWebhooks{shadow})
	d := &gate.Dispatcher{Store: store, Targets: staticTargets{"fraud": {Webhook: shadow, URL: "https://validator.example/fraud"}},
		Tokens: claimTokens{}, Caller: downCaller{}, MaxAttempts: 1, Now: time.Now, Log: log}
	res := d.DeliverBatch(ctx, []gate.Attempt{{Delivery: gate.DeliveriesOf(alone, 0, []string{"fraud"})[0], Number: 1}})
	if res[0].Err != nil || res[0].Outcome.Kind != gate.OutcomeFailed {
		t.Fatalf("shadow delivery: %+v", res[0])
	}
	r, texts = read(alone)
	want = []string{"Request submitted: awaiting manual review", "Triggered pre-approval webhooks: Fraud (shadow)",
		"Pre-approval webhook 'Fraud' failed after 1 attempts: HTTP 503 (shadow, not counted)"}
	if r.Status != gate.StatusPending || r.Webhooks[0].Delivery != gate.WebhookFailed || !slices.Equal(texts, want) {
		t.Fatalf("shadow only: %s, %+v, %q; want pending, %q", r.Status, r.Webhooks, texts, want)
	}
}
