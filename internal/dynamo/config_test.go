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
	// Updates are conditional on what was read: the version of the
	// connection, the sealed secrets.
	if err := store.SaveConnection(ctx, gate.ConnectionPatch{Connection: conn}); !errors.As(err, &cf) {
		t.Fatalf("update at a stale version: %v", err)
	}
	read, err := store.GetConnection(ctx, "c")
	if err != nil || read.Version != 1 {
		t.Fatalf("version after create: %d, %v", read.Version, err)
	}
	if err := store.SaveConnection(ctx, gate.ConnectionPatch{Connection: read}); err != nil {
		t.Fatalf("update at the version read: %v", err)
	}
	for _, w := range []struct {
		name    string
		s, was  []byte
		wantErr bool
	}{
		{"first secrets", []byte{1}, nil, false},
		{"first secrets again", []byte{2}, nil, true},
		{"secrets changed since read", []byte{2}, []byte{9}, true},
		{"secrets as read", []byte{2}, []byte{1}, false},
	} {
		err := store.SaveSecrets(ctx, "c", gate.SealedSecrets{Sealed: w.s}, w.was, now)
		if w.wantErr != (err != nil) || err != nil && !errors.As(err, &cf) {
			t.Fatalf("%s: %v", w.name, err)
		}
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
		cfg, err := store.ListWebhooks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Webhooks; len(got) != len(st.want) || len(got) == 1 && got[0].Key != st.want[0] {
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

	// A signing secret retired by a rotation keeps its end.
	until := now.Add(24 * time.Hour)
	wh.SigningSecrets = []gate.SealedSigningSecret{{Sealed: []byte{7}}, {Sealed: []byte{9}, ValidUntil: until}}
	if err := store.SaveWebhookSet(ctx, gate.WebhookSet{Version: 2, Webhooks: []gate.StoredWebhook{wh}}, nil); err != nil {
		t.Fatal(err)
	}
	set, err = store.LoadWebhookSet(ctx)
	if err != nil || len(set.Webhooks) != 1 {
		t.Fatalf("set %+v, %v", set, err)
	}
	got := set.Webhooks[0].SigningSecrets
	if len(got) != 2 || !got[0].ValidUntil.IsZero() || string(got[0].Sealed) != "\x07" || !got[1].ValidUntil.Equal(until) || string(got[1].Sealed) != "\x09" {
		t.Fatalf("signing secrets read back: %+v", got)
	}
}
