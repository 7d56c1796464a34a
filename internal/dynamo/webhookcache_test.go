package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

// Two instances on one config table: what one instance changes, the
// other's next snapshot shows (its version check sees it), while between
// changes a snapshot reads the version item alone and serves the set it
// kept; a reply's read is served from what was kept while it is as new as
// the request's snapshot and young, and read again otherwise.
func TestWebhookCacheAcrossInstances(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	db := dynamodb.NewFromConfig(cfg)
	table := s.Resources["ConfigTable"].Ref
	admin, submitter := dynamo.NewConfigStore(db, table), dynamo.NewConfigStore(db, table)
	now := time.Now().UTC()
	if err := admin.SaveConnection(ctx, gate.ConnectionPatch{Connection: gate.Connection{Key: "c", Name: "C", ConnectionType: "https",
		Access: "read", CreatedAt: now, UpdatedAt: now}, Create: true}); err != nil {
		t.Fatal(err)
	}
	hook := func(key string) gate.StoredWebhook {
		return gate.StoredWebhook{Webhook: gate.Webhook{Key: key, Name: key, ConnectionKey: "c", CreatedAt: now, UpdatedAt: now}}
	}
	keys := func(hs []gate.Webhook) (out []string) {
		for _, h := range hs {
			out = append(out, h.Key)
		}
		return out
	}
	snapshot := func(want ...string) int64 {
		t.Helper()
		got, err := submitter.ListWebhooks(ctx)
		if err != nil || len(got.Webhooks) != len(want) || len(want) > 0 && keys(got.Webhooks)[len(want)-1] != want[len(want)-1] {
			t.Fatalf("snapshot %v (version %d, %v), want %v", keys(got.Webhooks), got.Version, err, want)
		}
		return got.Version
	}
	if v := snapshot(); v != 0 {
		t.Fatalf("no set yet: version %d", v)
	}
	if err := admin.SaveWebhookSet(ctx, gate.WebhookSet{Webhooks: []gate.StoredWebhook{hook("a")}}, []string{"c"}); err != nil {
		t.Fatal(err)
	}
	v1 := snapshot("a") // added by the other instance, then submitted: in the snapshot

	// The set's item changed behind the version's back: a snapshot with
	// the same version serves what it kept, so it read the version alone.
	item, err := attributevalue.MarshalMap(map[string]any{"pk": "WEBHOOKS", "sk": "SET", "version": v1, "webhooks": []any{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
		t.Fatal(err)
	}
	snapshot("a")
	if got, err := submitter.WebhooksSince(ctx, v1); err != nil || len(got) != 1 {
		t.Fatalf("a reply at the kept version: %v %v, want the kept set", keys(got), err)
	}
	if err := admin.SaveWebhookSet(ctx, gate.WebhookSet{Version: v1, Webhooks: []gate.StoredWebhook{hook("a"), hook("b")}}, []string{"c"}); err != nil {
		t.Fatal(err)
	}
	// A reply for a request whose snapshot is older than the change may be
	// served the kept set; one whose snapshot is newer reads the set again.
	if got, err := submitter.WebhooksSince(ctx, v1); err != nil || len(got) != 1 {
		t.Fatalf("a reply of an older snapshot: %v %v, want the kept set", keys(got), err)
	}
	if got, err := submitter.WebhooksSince(ctx, v1+1); err != nil || len(got) != 2 {
		t.Fatalf("a reply of a newer snapshot: %v %v, want the set read again", keys(got), err)
	}
	// What was kept ages out: a deletion reaches every reply within the TTL.
	aging := dynamo.NewConfigStore(db, table)
	if got, err := aging.WebhooksSince(ctx, 0); err != nil || len(got) != 2 {
		t.Fatalf("a fresh instance: %v %v", keys(got), err)
	}
	if err := admin.SaveWebhookSet(ctx, gate.WebhookSet{Version: v1 + 1, Webhooks: []gate.StoredWebhook{hook("b")}}, []string{"c"}); err != nil {
		t.Fatal(err)
	}
	if got, err := aging.WebhooksSince(ctx, 0); err != nil || len(got) != 2 {
		t.Fatalf("within the TTL: %v %v, want the kept set", keys(got), err)
	}
	dynamo.AgeWebhookCache(aging)
	if got, err := aging.WebhooksSince(ctx, 0); err != nil || len(got) != 1 || got[0].Key != "b" {
		t.Fatalf("past the TTL: %v %v, want the deletion seen", keys(got), err)
	}
	v2 := snapshot("b")
	if v2 != v1+2 {
		t.Fatalf("version %d after two changes from %d", v2, v1)
	}
	// Deleting the connection deletes its webhooks and moves the version.
	if err := admin.DeleteConnection(ctx, "c", gate.WebhookSet{Version: v2}); err != nil {
		t.Fatal(err)
	}
	snapshot()
}
