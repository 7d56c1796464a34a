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
// other's next read shows (its version check sees it), while between
// changes a read gets the version alone and serves the set it kept.
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
	// A change by the other instance: the next reply's read shows it at once
	// (a deleted webhook's reply is refused right after the deletion).
	if err := admin.SaveWebhookSet(ctx, gate.WebhookSet{Version: v1, Webhooks: []gate.StoredWebhook{hook("b")}}, []string{"c"}); err != nil {
		t.Fatal(err)
	}
	if got, err := submitter.WebhooksSince(ctx, v1); err != nil || len(got) != 1 || got[0].Key != "b" {
		t.Fatalf("a reply after a change: %v %v, want the change", keys(got), err)
	}
	v2 := snapshot("b")
	if v2 != v1+1 {
		t.Fatalf("version %d after one change from %d", v2, v1)
	}
	// Deleting the connection deletes its webhooks and moves the version.
	if err := admin.DeleteConnection(ctx, "c", gate.WebhookSet{Version: v2}); err != nil {
		t.Fatal(err)
	}
	snapshot()
}
