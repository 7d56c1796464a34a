package dynamo_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/stream"
)

// recorder is a dispatch queue and an approved queue that keep what they get.
type recorder struct {
	mu         sync.Mutex
	deliveries []gate.Delivery
	approved   []string
}

func (r *recorder) EnqueueDeliveries(_ context.Context, ds []gate.Delivery) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deliveries = append(r.deliveries, ds...)
	return nil
}

func (r *recorder) PublishApproved(_ context.Context, m gate.ApprovedMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.approved = append(r.approved, m.PrivacyRequestID)
	return nil
}

// The reconciler against the emulator: 30 approvals never published, due in
// an order unlike their ids, read 2 keys a DynamoDB page and 5 requests a
// batch, are published oldest due first; one poisoned item among them is
// logged and skipped; an awaiting request whose stream record was lost gets
// its deliveries; a stream record of an approval replayed after the mark
// publishes nothing; and a second run finds nothing due.
func TestReconcilerAgainstEmulator(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	db := dynamodb.NewFromConfig(cfg)
	table := s.Resources["RequestsTable"].Ref
	store := dynamo.NewRequestStore(db, table).WithReconcileAfter(time.Minute)
	dynamo.SetQueryLimit(store, 2)
	now := time.Now().UTC().Truncate(time.Microsecond)
	var want []string
	for i := range 30 {
		at := now.Add(-time.Hour + time.Duration((i*7)%30)*time.Second) // due in another order than created
		r := &gate.PrivacyRequest{ID: gate.NewRequestID(), Status: gate.StatusApproved, PolicyKey: "default_access_policy", PolicyAction: "access",
			Identity: gate.Identity{Email: "a@example.com"}, CreatedAt: at, UpdatedAt: at, ApprovedAt: &at}
		if err := store.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		want = append(want, r.ID)
	}
	// sort want by due time: (i*7)%30 seconds
	sorted := make([]string, 30)
	for i, id := range want {
		sorted[(i*7)%30] = id
	}
	// A poisoned item: due, but its stored times cannot be read.
	poisoned := gate.NewRequestID()
	dueAt := now.Add(-time.Hour + 15*time.Second + time.Millisecond).UnixMicro()
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: dynamo.UnreadableDueItem(poisoned, dueAt)}); err != nil {
		t.Fatal(err)
	}
	// Awaiting for two hours, no delivery ever recorded: its stream record was lost.
	triggered := now.Add(-2 * time.Hour)
	lost := &gate.PrivacyRequest{ID: gate.NewRequestID(), Status: gate.StatusAwaitingPreApproval, PolicyKey: "default_access_policy", PolicyAction: "access",
		Identity: gate.Identity{Email: "a@example.com"}, CreatedAt: triggered, UpdatedAt: triggered,
		Webhooks: []gate.SnapshotWebhook{{Key: "a", Name: "A"}, {Key: "b", Name: "B"}},
		Activity: []gate.ActivityEntry{{At: triggered, Kind: gate.KindTriggered, Hooks: []gate.Mention{{Index: 0}, {Index: 1}}}}}
	if err := store.Create(ctx, lost); err != nil {
		t.Fatal(err)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rec := &recorder{}
	replies := &gate.Replies{Store: store, Webhooks: staticWebhooks{{Key: "a", Name: "A"}, {Key: "b", Name: "B"}}, Now: time.Now, Log: log}
	rc := &gate.Reconciler{Store: store, Replies: replies, Deliveries: rec, Publisher: &gate.Publisher{Store: store, Queue: rec, Now: time.Now, Log: log},
		DispatchGrace: time.Hour, MinBackoff: time.Minute, Batch: 5, Now: time.Now, Log: log}
	res, err := rc.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res != (gate.ReconcileResult{Published: 30, Redelivered: 1, Postponed: 1, Failed: 1}) {
		t.Fatalf("run %+v", res)
	}
	for i := range sorted {
		if rec.approved[i] != sorted[i] {
			t.Fatalf("published %d-th %s, want %s: not oldest due first", i, rec.approved[i], sorted[i])
		}
	}
	if len(rec.deliveries) != 2 || rec.deliveries[0] != (gate.Delivery{ID: lost.ID + ":a", PrivacyRequestID: lost.ID, WebhookKey: "a"}) {
		t.Fatalf("deliveries enqueued again: %+v", rec.deliveries)
	}
	got, err := store.Get(ctx, sorted[0])
	if err != nil || got.PublishedAt == nil || got.DueAt != nil {
		t.Fatalf("published request %+v (%v): want marked and out of the due index", got, err)
	}
	if got, err := store.Get(ctx, lost.ID); err != nil || got.DueAt == nil || !got.DueAt.After(now.Add(time.Hour)) {
		t.Fatalf("lost request after its deliveries: %+v (%v), want due again after as long as it waited", got, err)
	}

	// The stream record of an approval, replayed days later: already marked, nothing sent.
	img := func(status string) map[string]events.DynamoDBAttributeValue {
		return map[string]events.DynamoDBAttributeValue{dynamo.AttrID: events.NewStringAttribute(sorted[0]), dynamo.AttrStatus: events.NewStringAttribute(status),
			dynamo.AttrPolicyAct: events.NewStringAttribute("access"), dynamo.AttrApprovedAt: events.NewNumberAttribute(strconv.FormatInt(now.UnixMicro(), 10))}
	}
	h := &stream.Approved{Queue: rec, Store: store, Log: log}
	if err := h.Handle(ctx, events.DynamoDBEventRecord{EventName: "MODIFY", Change: events.DynamoDBStreamRecord{OldImage: img("pending"), NewImage: img("approved")}}); err != nil {
		t.Fatal(err)
	}
	if len(rec.approved) != 30 {
		t.Fatalf("a replayed record after the mark published again: %d messages", len(rec.approved))
	}

	// Only the poisoned item is due now.
	if again, err := rc.Run(ctx); err != nil || again != (gate.ReconcileResult{Failed: 1}) {
		t.Fatalf("second run %+v (%v), want only the poisoned item", again, err)
	}
}
