package keys

import (
	"errors"
	"testing"
	"time"

	"github.com/pregate/pregate/internal/gate"
)

func TestVerifyReplyMapsOutcomes(t *testing.T) {
	raw, err := GenerateKeySetJSON("k1")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := ParseKeySet(raw)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	tokens := NewTokens(ks, time.Hour, clock)
	tok, err := tokens.Mint("crm", "pri_1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := tokens.VerifyReply(tok)
	if err != nil || c.WebhookKey != "crm" || c.PrivacyRequestID != "pri_1" {
		t.Fatalf("good token: %+v %v", c, err)
	}
	if _, err := tokens.VerifyReply("nope"); !errors.Is(err, gate.ErrReplyTokenInvalid) {
		t.Fatalf("garbage: %v", err)
	}
	now = now.Add(2 * time.Hour)
	if _, err := tokens.VerifyReply(tok); !errors.Is(err, gate.ErrReplyTokenExpired) {
		t.Fatalf("expired: %v", err)
	}
}
