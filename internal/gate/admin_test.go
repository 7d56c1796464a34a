package gate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSnakeKey(t *testing.T) {
	for in, want := range map[string]string{
		"My New Pre-Approval Webhook": "my_new_pre_approval_webhook",
		"  Trim me  ":                 "trim_me",
		"a - b":                       "a_b",
		"Crème brûlée!":               "crme_brle",
		"under_score":                 "under_score",
		"!!!":                         "",
	} {
		if got := SnakeKey(in); got != want {
			t.Errorf("SnakeKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestValidateWebhookSet(t *testing.T) {
	w := func(key, name, conn string) WebhookInput {
		in := WebhookInput{Name: ptr(name), ConnectionConfigKey: ptr(conn)}
		if key != "" {
			in.Key = ptr(key)
		}
		return in
	}
	var val *ValidationError
	var bad *BadRequestError
	for _, tc := range []struct {
		name string
		in   []WebhookInput
		want any
	}{
		{"empty set", nil, nil},
		{"ok", []WebhookInput{w("", "A b", "c"), w("x", "X", "c")}, nil},
		{"same derived key", []WebhookInput{w("", "A b", "c"), w("a_b", "Other", "c")}, &bad},
		{"same name", []WebhookInput{w("k1", "N", "c"), w("k2", "N", "c")}, &bad},
		{"bad key", []WebhookInput{w("a b", "N", "c")}, &val},
		{"blank name", []WebhookInput{w("k", " ", "c")}, &val},
		{"no connection", []WebhookInput{w("k", "N", "")}, &val},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validateWebhookSet(tc.in)
			switch target := tc.want.(type) {
			case nil:
				if err != nil {
					t.Fatal(err)
				}
			case **ValidationError:
				if !errors.As(err, target) {
					t.Fatalf("got %v, want a validation error", err)
				}
			case **BadRequestError:
				if !errors.As(err, target) || (*target).Msg != msgDuplicateWebhooks {
					t.Fatalf("got %v, want the duplicate error", err)
				}
			}
		})
	}
}

// A name over 200 characters is refused as too long, not as missing, in a PUT
// of webhooks as in a PATCH of one.
func TestWebhookNameTooLong(t *testing.T) {
	long := strings.Repeat("n", MaxNameLen+1)
	want := FieldError{Loc: []any{"body", 0, "name"}, Msg: "ensure this value has at most 200 characters", Type: "value_error.any_str.max_length"}
	var val *ValidationError
	err := validateWebhookSet([]WebhookInput{{Key: ptr("k"), Name: ptr(long), ConnectionConfigKey: ptr("c")}})
	if !errors.As(err, &val) || len(val.Fields) != 1 || val.Fields[0].Msg != want.Msg || val.Fields[0].Type != want.Type || len(val.Fields[0].Loc) != 3 {
		t.Fatalf("PUT: %v, want %+v", err, want)
	}
	if err := validateWebhookSet([]WebhookInput{{Name: ptr(long[1:]), ConnectionConfigKey: ptr("c")}}); err != nil {
		t.Fatalf("200 characters: %v", err)
	}
	a := &Admin{Store: newMemConfig()}
	_, err = a.PatchWebhook(context.Background(), "k", WebhookInput{Name: ptr(long)})
	if !errors.As(err, &val) || val.Fields[0].Msg != want.Msg {
		t.Fatalf("PATCH: %v, want %q", err, want.Msg)
	}
}

// A connection whose every write loses a race is reported in failed, with
// the item as sent; the others of the batch are saved.
func TestPatchConnectionsReportsLostRaces(t *testing.T) {
	store := newMemConfig()
	attempts := 0
	store.saveConnection = func(p ConnectionPatch) error {
		if p.Connection.Key == "busy" {
			attempts++
			return &ConflictError{Msg: "update connection busy: changed concurrently"}
		}
		store.conns[p.Connection.Key] = p.Connection
		return nil
	}
	a := &Admin{Store: store, Now: time.Now}
	busy := ConnectionInput{Key: ptr("busy"), Name: ptr("Busy"), ConnectionType: ptr("https"), Access: ptr("read"), Description: ptr("d")}
	calm := ConnectionInput{Key: ptr("calm"), Name: ptr("Calm"), ConnectionType: ptr("https"), Access: ptr("write")}
	done, failed, err := a.PatchConnections(context.Background(), []ConnectionInput{busy, calm})
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 || done[0].Key != "calm" {
		t.Fatalf("succeeded %+v", done)
	}
	if len(failed) != 1 || failed[0].Message != "Connection busy changed concurrently; try again." {
		t.Fatalf("failed %+v", failed)
	}
	if d := failed[0].Data; d.Key != busy.Key || d.Name != busy.Name || d.Description != busy.Description || d.Disabled != nil {
		t.Fatalf("failed data %+v, want the item as sent", d)
	}
	if attempts != conflictRetries {
		t.Fatalf("%d attempts, want %d", attempts, conflictRetries)
	}
}
