package gate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Each limited field: at its limit it is taken, one character over it is a
// 422 naming the field with pydantic's max_length text.
func TestFieldLimits(t *testing.T) {
	ctx := context.Background()
	a := func() *Admin {
		store := newMemConfig()
		store.conns["conn"] = Connection{Key: "conn", Name: "Conn"}
		return &Admin{Store: store, Sealer: plainSealer{}, Now: time.Now,
			CheckURL:         func(context.Context, string) error { return nil },
			NewSigningSecret: func() (string, error) { return "whsec_x", nil }}
	}
	// n characters of a 2-byte letter: the limits count characters, not bytes.
	str := func(n int) string { return strings.Repeat("é", n) }
	ascii := func(n int) string { return strings.Repeat("a", n) }
	email := func(n int) string { return ascii(n-len("@example.com")) + "@example.com" }
	phone := func(n int) string { return "+1" + strings.Repeat("5", n-2) }
	submit := func(it SubmitItem) error { return ValidateSubmission([]SubmitItem{it}) }
	deny := func(reason string) error {
		_, err := (&Requests{}).Deny(ctx, Decision{IDs: []string{"x"}, Reason: reason})
		return err
	}
	conn := func(f func(*ConnectionInput)) error {
		in := ConnectionInput{Key: ptr("k"), Name: ptr("N"), ConnectionType: ptr("https"), Access: ptr("read")}
		f(&in)
		return ValidateConnections([]ConnectionInput{in})
	}
	hooks := func(f func(*WebhookInput)) error {
		in := WebhookInput{Key: ptr("k"), Name: ptr("N"), ConnectionConfigKey: ptr("conn")}
		f(&in)
		_, err := a().ReplaceWebhooks(ctx, []WebhookInput{in})
		return err
	}
	secrets := func(in SecretsInput) error {
		if in.URL == nil {
			in.URL = ptr("https://example.com/")
		}
		if in.Authorization == nil {
			in.Authorization = ptr("Bearer x")
		}
		return a().SetSecrets(ctx, "conn", in, false)
	}
	headers := func(n int, name, value string) map[string]string {
		h := map[string]string{name: value}
		for i := 1; i < n; i++ {
			h[fmt.Sprintf("X-%d", i)] = "v"
		}
		return h
	}
	for _, tc := range []struct {
		name  string
		limit int
		try   func(n int) error
		loc   []any
		msg   string // default: the max_length text of limit
	}{
		{"email", MaxEmailLen, func(n int) error { return submit(SubmitItem{Identity: Identity{Email: email(n)}, PolicyKey: "p"}) }, []any{"body", 0, "identity", "email"}, ""},
		{"phone", MaxPhoneLen, func(n int) error {
			return submit(SubmitItem{Identity: Identity{PhoneNumber: phone(n)}, PolicyKey: "p"})
		}, []any{"body", 0, "identity", "phone_number"}, ""},
		{"external_id", MaxExternalIDLen, func(n int) error {
			return submit(SubmitItem{Identity: Identity{Email: "a@example.com"}, PolicyKey: "p", ExternalID: str(n)})
		}, []any{"body", 0, "external_id"}, ""},
		{"policy_key", MaxKeyLen, func(n int) error {
			return submit(SubmitItem{Identity: Identity{Email: "a@example.com"}, PolicyKey: ascii(n)})
		}, []any{"body", 0, "policy_key"}, ""},
		{"deny reason", MaxDenyReasonLen, func(n int) error { return deny(str(n)) }, []any{"body", "reason"}, ""},
		{"connection name", MaxNameLen, func(n int) error { return conn(func(c *ConnectionInput) { c.Name = ptr(str(n)) }) }, []any{"body", 0, "name"}, ""},
		{"connection key", MaxKeyLen, func(n int) error { return conn(func(c *ConnectionInput) { c.Key = ptr(ascii(n)) }) }, []any{"body", 0, "key"}, ""},
		{"connection description", MaxDescriptionLen, func(n int) error { return conn(func(c *ConnectionInput) { c.Description = ptr(str(n)) }) }, []any{"body", 0, "description"}, ""},
		{"webhook name", MaxNameLen, func(n int) error { return hooks(func(w *WebhookInput) { w.Name = ptr(str(n)) }) }, []any{"body", 0, "name"}, ""},
		{"webhook key", MaxKeyLen, func(n int) error { return hooks(func(w *WebhookInput) { w.Key = ptr(ascii(n)) }) }, []any{"body", 0, "key"}, ""},
		{"webhook connection key", MaxKeyLen, func(n int) error {
			return hooks(func(w *WebhookInput) { w.ConnectionConfigKey = ptr(strings.Repeat("c", n)) })
		}, []any{"body", 0, "connection_config_key"}, ""},
		{"secret url", MaxURLLen, func(n int) error {
			return secrets(SecretsInput{URL: ptr("https://example.com/" + ascii(n-len("https://example.com/")))})
		}, []any{"body", "url"}, ""},
		{"secret authorization", MaxAuthLen, func(n int) error {
			return secrets(SecretsInput{Authorization: ptr(ascii(n))})
		}, []any{"body", "authorization"}, ""},
		{"header count", MaxHeaders, func(n int) error { return secrets(SecretsInput{Headers: headers(n, "X-0", "v")}) }, []any{"body", "headers"}, "ensure this value has at most 20 items"},
		{"header name", MaxHeaderNameLen, func(n int) error { return secrets(SecretsInput{Headers: headers(1, ascii(n), "v")}) }, []any{"body", "headers", "__key__"}, ""},
		{"header value", MaxHeaderValueLen, func(n int) error { return secrets(SecretsInput{Headers: headers(1, "X-A", str(n))}) }, []any{"body", "headers", "X-A"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.try(tc.limit)
			var val *ValidationError
			// At the limit, nothing about this field (other rules may still
			// refuse, e.g. the secrets' 4 KiB in all).
			if errors.As(err, &val) && hasLoc(val, tc.loc) {
				t.Fatalf("at the limit: %v", err)
			}
			err = tc.try(tc.limit + 1)
			want := tc.msg
			if want == "" {
				want = maxLengthMsg(tc.limit)
			}
			if !errors.As(err, &val) || !hasLoc(val, tc.loc) {
				t.Fatalf("one over: %v, want a 422 at %v", err, tc.loc)
			}
			for _, f := range val.Fields {
				if reflect.DeepEqual(f.Loc, tc.loc) && f.Msg != want {
					t.Fatalf("message %q, want %q", f.Msg, want)
				}
			}
		})
	}
}

func hasLoc(val *ValidationError, loc []any) bool {
	for _, f := range val.Fields {
		if reflect.DeepEqual(f.Loc, loc) {
			return true
		}
	}
	return false
}

// A name longer than a key gets a key cut to MaxKeyLen.
func TestDerivedKeyIsCut(t *testing.T) {
	k := derivedKey(strings.Repeat("ab ", 70))
	if len(k) > MaxKeyLen || !ValidKey(k) || strings.HasSuffix(k, "_") {
		t.Fatalf("%q (%d)", k, len(k))
	}
	if err := ValidateConnections([]ConnectionInput{{Name: ptr(strings.Repeat("n", MaxNameLen)), ConnectionType: ptr("https"), Access: ptr("read")}}); err != nil {
		t.Fatal(err)
	}
}

// A path key no connection can have is not found without asking the store.
func TestOversizedPathKeyIsNotFound(t *testing.T) {
	a := &Admin{Store: newMemConfig()}
	var nf *NotFoundError
	if _, err := a.GetConnection(context.Background(), strings.Repeat("k", 5000)); !errors.As(err, &nf) {
		t.Fatalf("%v, want not found", err)
	}
}

func TestTruncateReason(t *testing.T) {
	for _, s := range []string{"", "short", strings.Repeat("a", MaxReasonLen), strings.Repeat("a", 5000), strings.Repeat("é", 300), strings.Repeat("a", 199) + "é"} {
		got := TruncateReason(s)
		if len(got) > MaxReasonLen || !utf8.ValidString(got) {
			t.Fatalf("%d bytes, valid %v", len(got), utf8.ValidString(got))
		}
		if len(s) <= MaxReasonLen && got != s {
			t.Fatalf("a short reason changed: %q", got)
		}
		if len(s) > MaxReasonLen && (!strings.HasSuffix(got, "…") || !strings.HasPrefix(s, strings.TrimSuffix(got, "…"))) {
			t.Fatalf("cut wrongly: %q", got)
		}
	}
}

// bigStore refuses every write for item size, as DynamoDB does past 400 KB.
type bigStore struct {
	RequestStore
	r *PrivacyRequest
}

func (s bigStore) Create(context.Context, *PrivacyRequest) error {
	return &ItemTooLargeError{Msg: "put request: too large"}
}

func (s bigStore) Get(context.Context, string) (*PrivacyRequest, error) { return s.r, nil }

func (s bigStore) Apply(context.Context, Change) (*PrivacyRequest, error) {
	return nil, &ItemTooLargeError{Msg: "update request: too large"}
}

// A write refused for item size fails that item of a bulk call with a
// clear message, and is no error of the call (never a 5xx).
func TestItemTooLargeFailsTheItem(t *testing.T) {
	ctx := context.Background()
	id := NewRequestID()
	u := &Requests{Store: bigStore{r: &PrivacyRequest{ID: id, Status: StatusPending}}, Now: time.Now, NewID: NewRequestID, Log: slog.New(slog.DiscardHandler)}
	res, err := u.Submit(ctx, []SubmitItem{{Identity: Identity{Email: "a@example.com"}, PolicyKey: "default_access_policy"}})
	if err != nil || len(res.Succeeded) != 0 || len(res.Failed) != 1 || res.Failed[0].Message != msgItemTooLarge {
		t.Fatalf("submit: %+v %v", res, err)
	}
	res, err = u.Deny(ctx, Decision{IDs: []string{id}, Reason: "no", Actor: "admin"})
	if err != nil || len(res.Failed) != 1 || res.Failed[0].Message != msgItemTooLarge {
		t.Fatalf("deny: %+v %v", res, err)
	}
}

// An admin whose name is over MaxActorLen characters is refused before
// anything is read or stored: the name goes on the timeline and in
// reviewed_by, and the item's largest size counts on that limit.
func TestActorOverItsLimitIsRefused(t *testing.T) {
	u := &Requests{} // no store: nothing may be read or written
	long := strings.Repeat("é", MaxActorLen+1)
	for name, call := range map[string]func() (BulkResult, error){
		"approve": func() (BulkResult, error) {
			return u.Approve(context.Background(), Decision{IDs: []string{"pri_x"}, Actor: long})
		},
		"deny": func() (BulkResult, error) {
			return u.Deny(context.Background(), Decision{IDs: []string{"pri_x"}, Actor: long})
		},
		"re-run": func() (BulkResult, error) {
			return u.RetryPreApproval(context.Background(), Decision{IDs: []string{"pri_x"}, Actor: long})
		},
	} {
		_, err := call()
		var v *ValidationError
		if !errors.As(err, &v) || v.Fields[0].Type != "value_error.any_str.max_length" {
			t.Errorf("%s by a %d-character name: %v, want a 422", name, MaxActorLen+1, err)
		}
	}
}
