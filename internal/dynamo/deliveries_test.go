package dynamo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

// TestRecordDeliveriesAgainstEmulator holds the conditions of docs/dispatch.md
// on the emulator: several marks in one write, each recorded once, a failure
// never over a reply, the move to pending only from awaiting, and replies and
// deliveries of one webhook landing in either order without refusing each other.
func TestRecordDeliveriesAgainstEmulator(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	store := dynamo.NewRequestStore(dynamodb.NewFromConfig(cfg), s.Resources["RequestsTable"].Ref)
	now := time.Now().UTC().Truncate(time.Microsecond)
	r := &gate.PrivacyRequest{ID: gate.NewRequestID(), Status: gate.StatusAwaitingPreApproval, PolicyKey: "default_access_policy",
		PolicyAction: "access", Identity: gate.Identity{Email: "a@example.com"}, CreatedAt: now, UpdatedAt: now,
		Webhooks: []gate.SnapshotWebhook{{Key: "a", Name: "A"}, {Key: "b", Name: "B"}, {Key: "c", Name: "C"}}}
	if err := store.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	entry := func(kind gate.ActivityKind, key string) []gate.ActivityEntry {
		i := strings.Index("abc", key)
		return []gate.ActivityEntry{{At: now, Kind: kind, Hooks: []gate.Mention{{Index: i, Key: key}}}}
	}
	var conflict *gate.ConflictError

	// The validator of c replies inside the call, before the delivery is recorded.
	if _, err := store.RecordReply(ctx, gate.ReplyWrite{ID: r.ID, Reply: &gate.WebhookReply{Index: 2, Key: "c", Answer: gate.WebhookEligible},
		At: now, Activity: entry(gate.KindEligible, "c")}); err != nil {
		t.Fatal(err)
	}
	called := gate.DeliveryWrite{ID: r.ID, At: now, Marks: []gate.DeliveryMark{
		{Index: 1, Key: "b", State: gate.WebhookCalled, Attempts: 2}, {Index: 2, Key: "c", State: gate.WebhookCalled, Attempts: 1}},
		Activity: append(entry(gate.KindCalled, "b"), entry(gate.KindCalled, "c")...)}
	if err := store.RecordDeliveries(ctx, called); err != nil {
		t.Fatalf("two called marks in one write: %v", err)
	}
	// The same marks again (a redelivered message) are refused.
	if err := store.RecordDeliveries(ctx, called); !errors.As(err, &conflict) {
		t.Fatalf("marks recorded twice: %v, want a conflict", err)
	}
	// A mark whose key is not at its index is refused.
	wrongKey := gate.DeliveryWrite{ID: r.ID, At: now, Marks: []gate.DeliveryMark{{Index: 0, Key: "b", State: gate.WebhookCalled, Attempts: 1}},
		Activity: entry(gate.KindCalled, "b")}
	if err := store.RecordDeliveries(ctx, wrongKey); !errors.As(err, &conflict) {
		t.Fatalf("wrong key: %v, want a conflict", err)
	}
	// A reply after its delivery is recorded is not refused by it.
	if _, err := store.RecordReply(ctx, gate.ReplyWrite{ID: r.ID, Reply: &gate.WebhookReply{Index: 1, Key: "b", Answer: gate.WebhookEligible},
		At: now, Activity: entry(gate.KindEligible, "b")}); err != nil {
		t.Fatal(err)
	}
	// A failure for good of a webhook that has replied is refused; of one that has not, it moves the request to pending.
	failed := func(i int, key string) gate.DeliveryWrite {
		return gate.DeliveryWrite{ID: r.ID, At: now, ToPending: true, Marks: []gate.DeliveryMark{{Index: i, Key: key, State: gate.WebhookFailed, Attempts: 3}},
			Activity: append(entry(gate.KindFailed, key), entry(gate.KindFailedToPending, key)...)}
	}
	if err := store.RecordDeliveries(ctx, failed(1, "b")); !errors.As(err, &conflict) {
		t.Fatalf("failure over a reply: %v, want a conflict", err)
	}
	if err := store.RecordDeliveries(ctx, failed(0, "a")); err != nil {
		t.Fatal(err)
	}
	// The activity alone (a duplicate call whose delivery another invocation recorded).
	if err := store.RecordDeliveries(ctx, gate.DeliveryWrite{ID: r.ID, At: now, Activity: entry(gate.KindCalled, "b")}); err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []gate.SnapshotWebhook{
		{Key: "a", Name: "A", Mode: gate.ModeEnforce, Delivery: gate.WebhookFailed, Attempts: 3},
		{Key: "b", Name: "B", Mode: gate.ModeEnforce, Delivery: gate.WebhookCalled, Attempts: 2, Reply: gate.WebhookEligible, RepliedAt: &now},
		{Key: "c", Name: "C", Mode: gate.ModeEnforce, Delivery: gate.WebhookCalled, Attempts: 1, Reply: gate.WebhookEligible, RepliedAt: &now},
	}
	for i, w := range want {
		if !sameWebhook(got.Webhooks[i], w) {
			t.Fatalf("webhook %d: %+v, want %+v", i, got.Webhooks[i], w)
		}
	}
	if got.Status != gate.StatusPending || len(got.Activity) != 7 {
		t.Fatalf("status %s, %d entries: %+v", got.Status, len(got.Activity), got.Activity)
	}
	// The move to pending happens from awaiting only.
	if err := store.RecordDeliveries(ctx, failed(0, "a")); !errors.As(err, &conflict) {
		t.Fatalf("second move to pending: %v, want a conflict", err)
	}
	// A missing request is refused, not created.
	if err := store.RecordDeliveries(ctx, gate.DeliveryWrite{ID: gate.NewRequestID(), At: now, Activity: entry(gate.KindCalled, "a")}); !errors.As(err, &conflict) {
		t.Fatalf("missing request: %v, want a conflict", err)
	}
}

// sameWebhook compares snapshot entries, replied_at by instant.
func sameWebhook(a, b gate.SnapshotWebhook) bool {
	at, bt := a.RepliedAt, b.RepliedAt
	a.RepliedAt, b.RepliedAt = nil, nil
	return a == b && (at == nil) == (bt == nil) && (at == nil || at.Equal(*bt))
}
