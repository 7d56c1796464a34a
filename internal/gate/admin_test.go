package gate

import (
	"errors"
	"testing"
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
