package dynamo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

func TestRecordDeliveryAgainstEmulator(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	store := dynamo.NewRequestStore(dynamodb.NewFromConfig(cfg), s.Resources["RequestsTable"].Ref)
	now := time.Now().UTC().Truncate(time.Microsecond)
	r := &gate.PrivacyRequest{ID: gate.NewRequestID(), Status: gate.StatusAwaitingPreApproval, PolicyKey: "default_access_policy",
		PolicyAction: "access", Identity: gate.Identity{Email: "a@example.com"}, CreatedAt: now, UpdatedAt: now,
		Webhooks: []gate.SnapshotWebhook{{Key: "a", Name: "A", State: gate.WebhookPending}, {Key: "b", Name: "B", State: gate.WebhookPending}}}
	if err := store.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	called := gate.DeliveryWrite{ID: r.ID, Version: 0, WebhookKey: "b", WebhookIndex: 1, State: gate.WebhookCalled, Attempts: 2,
		To: gate.StatusAwaitingPreApproval, At: now, Activity: []gate.ActivityEntry{{At: now, Action: gate.ActionWebhookCalled, Message: "m", WebhookKey: "b"}}}
	if err := store.RecordDelivery(ctx, called); err != nil {
		t.Fatal(err)
	}
	// The same write again is on a stale version: refused.
	var conflict *gate.ConflictError
	if err := store.RecordDelivery(ctx, called); !errors.As(err, &conflict) {
		t.Fatalf("stale version: %v, want a conflict", err)
	}
	// The wrong key at the index is refused too.
	wrongKey := called
	wrongKey.Version, wrongKey.WebhookKey = 1, "a"
	if err := store.RecordDelivery(ctx, wrongKey); !errors.As(err, &conflict) {
		t.Fatalf("wrong key: %v, want a conflict", err)
	}
	failed := gate.DeliveryWrite{ID: r.ID, Version: 1, WebhookKey: "a", WebhookIndex: 0, State: gate.WebhookFailed, Attempts: 3,
		To: gate.StatusPending, At: now, Activity: []gate.ActivityEntry{{At: now, Action: gate.ActionWebhookFailed, Message: "f", WebhookKey: "a"}}}
	if err := store.RecordDelivery(ctx, failed); err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.Status != gate.StatusPending {
		t.Fatalf("version %d status %s", got.Version, got.Status)
	}
	if w := got.Webhooks[1]; w.State != gate.WebhookCalled || w.Attempts != 2 {
		t.Fatalf("webhook b: %+v", w)
	}
	if w := got.Webhooks[0]; w.State != gate.WebhookFailed || w.Attempts != 3 {
		t.Fatalf("webhook a: %+v", w)
	}
	if len(got.Activity) != 2 || got.Activity[0].Action != gate.ActionWebhookCalled || got.Activity[1].Action != gate.ActionWebhookFailed {
		t.Fatalf("activity %+v", got.Activity)
	}
}
