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

func TestMain(m *testing.M) { awstest.Main(m) }

func TestConfigStoreConditionalWrites(t *testing.T) {
	s, cfg := awstest.Stack(t)
	store := dynamo.NewConfigStore(dynamodb.NewFromConfig(cfg), s.Resources["ConfigTable"].Ref)
	ctx := context.Background()
	now := time.Now().UTC()
	conn := gate.Connection{Key: "c", Name: "C", ConnectionType: "https", Access: "read", CreatedAt: now, UpdatedAt: now}
	var cf *gate.ConflictError
	var nf *gate.NotFoundError

	if err := store.SaveConnection(ctx, gate.ConnectionPatch{Connection: conn, Create: true}); err != nil {
		t.Fatal(err)
	}
	if err := store.SaveConnection(ctx, gate.ConnectionPatch{Connection: conn, Create: true}); !errors.As(err, &cf) {
		t.Fatalf("second create: %v", err)
	}
	if err := store.SaveConnection(ctx, gate.ConnectionPatch{Connection: gate.Connection{Key: "ghost"}}); !errors.As(err, &cf) {
		t.Fatalf("update of a missing connection: %v", err)
	}
	if err := store.SaveSecrets(ctx, "ghost", gate.SealedSecrets{Sealed: []byte{1}}, nil, now); !errors.As(err, &nf) {
		t.Fatalf("secrets of a missing connection: %v", err)
	}

	wh := gate.StoredWebhook{Webhook: gate.Webhook{Key: "w", Name: "W", ConnectionKey: "c", CreatedAt: now, UpdatedAt: now}, SigningSecrets: []gate.SealedSigningSecret{{Sealed: []byte{9}}}}
	steps := []struct {
		name    string
		write   func() error
		wantErr bool
		want    []string
	}{
		{"first write at version 0", func() error {
			return store.SaveWebhookSet(ctx, gate.WebhookSet{Webhooks: []gate.StoredWebhook{wh}}, []string{"c"})
		}, false, []string{"w"}},
		{"stale version", func() error { return store.SaveWebhookSet(ctx, gate.WebhookSet{}, nil) }, true, []string{"w"}},
		{"missing connection", func() error {
			return store.SaveWebhookSet(ctx, gate.WebhookSet{Version: 1}, []string{"ghost"})
		}, true, []string{"w"}},
		{"delete connection with a stale set", func() error { return store.DeleteConnection(ctx, "c", gate.WebhookSet{Version: 0}) }, true, []string{"w"}},
		{"delete connection and its webhooks", func() error { return store.DeleteConnection(ctx, "c", gate.WebhookSet{Version: 1}) }, false, []string{}},
	}
	for _, st := range steps {
		err := st.write()
		if st.wantErr != (err != nil) || err != nil && !errors.As(err, &cf) {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := store.ListWebhooks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(st.want) || len(got) == 1 && got[0].Key != st.want[0] {
			t.Fatalf("%s: webhooks %v", st.name, got)
		}
	}
	if _, err := store.GetConnection(ctx, "c"); !errors.As(err, &nf) {
		t.Fatalf("connection after delete: %v", err)
	}
	set, err := store.LoadWebhookSet(ctx)
	if err != nil || set.Version != 2 {
		t.Fatalf("version %d, %v", set.Version, err)
	}
}
