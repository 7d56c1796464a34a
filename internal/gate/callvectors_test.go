package gate

import (
	"encoding/json"
	"os"
	"testing"
	"time"
)

// fixedTokens mints the same reply token for every call.
type fixedTokens string

func (f fixedTokens) MintReply(string, string, int) (string, error) { return string(f), nil }

// The validator SDKs' shared test vectors describe the gate's calls; each
// must be exactly what buildCall makes from the request it names (the
// signatures are checked against Sign in internal/webhook).
func TestBuildCallMatchesTheSDKVectors(t *testing.T) {
	raw, err := os.ReadFile("../../validator/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		GateCalls []struct {
			Name    string `json:"name"`
			Request struct {
				ID                 string  `json:"id"`
				Status             string  `json:"status"`
				PolicyAction       string  `json:"policy_action"`
				PolicyKey          string  `json:"policy_key"`
				Email              *string `json:"email"`
				PhoneNumber        *string `json:"phone_number"`
				ExternalID         *string `json:"external_id"`
				RequestedAt        string  `json:"requested_at"`
				IdentityVerifiedAt *string `json:"identity_verified_at"`
			} `json:"request"`
			WebhookKey string            `json:"webhook_key"`
			SentAt     int64             `json:"sent_at"`
			Timestamp  string            `json:"timestamp"`
			BaseURL    string            `json:"base_url"`
			ReplyToken string            `json:"reply_token"`
			Body       string            `json:"body"`
			Headers    map[string]string `json:"headers"`
		} `json:"gate_calls"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.GateCalls) == 0 {
		t.Fatal("no gate_calls in the vectors")
	}
	parse := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	for _, gc := range v.GateCalls {
		q := gc.Request
		r := &PrivacyRequest{ID: q.ID, Status: Status(q.Status), PolicyKey: q.PolicyKey, PolicyAction: q.PolicyAction,
			Identity: Identity{Email: deref(q.Email), PhoneNumber: deref(q.PhoneNumber)}, ExternalID: deref(q.ExternalID),
			CreatedAt: parse(q.RequestedAt)}
		if q.IdentityVerifiedAt != nil {
			at := parse(*q.IdentityVerifiedAt)
			r.IdentityVerifiedAt = &at
		}
		now := parse(gc.Timestamp)
		if now.Unix() != gc.SentAt {
			t.Fatalf("%s: timestamp %s is not sent_at %d", gc.Name, gc.Timestamp, gc.SentAt)
		}
		u := &Dispatcher{Tokens: fixedTokens(gc.ReplyToken), BaseURL: gc.BaseURL}
		d := Delivery{ID: DeliveryID(q.ID, gc.WebhookKey), PrivacyRequestID: q.ID, WebhookKey: gc.WebhookKey}
		header, body, err := u.buildCall(r, d, DeliveryTarget{}, now)
		if err != nil {
			t.Fatal(err)
		}
		if string(body) != gc.Body {
			t.Errorf("%s: body\n got %s\nwant %s", gc.Name, body, gc.Body)
		}
		for k, want := range gc.Headers {
			if k == "webhook-signature" {
				continue
			}
			if got := header.Get(k); got != want {
				t.Errorf("%s: header %s = %q, want %q", gc.Name, k, got, want)
			}
		}
	}
}
