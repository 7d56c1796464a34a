package replytokens

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pregate/pregate/internal/keys"
)

// A failed background read is tried again by the next invocation; until
// one succeeds, minting and verifying fail rather than use no key.
func TestReadyReadsAgainAfterAFailedRead(t *testing.T) {
	ksJSON, err := keys.GenerateKeySetJSON("k1")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keys.ParseKeySet(ksJSON)
	if err != nil {
		t.Fatal(err)
	}
	reads := 0
	tok := &Tokens{first: make(chan struct{}), load: func(context.Context) (*keys.Tokens, error) {
		reads++
		if reads == 1 {
			return nil, errors.New("secrets manager unavailable")
		}
		return keys.NewTokens(ks, time.Hour, time.Now), nil
	}}
	if _, err := tok.load(context.Background()); err == nil {
		t.Fatal("first read should fail")
	}
	close(tok.first)
	if _, err := tok.MintReply("hook", "pri_1", 0); err == nil {
		t.Fatal("minted without a key set")
	}
	if err := tok.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	token, err := tok.MintReply("hook", "pri_1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if claims, err := tok.VerifyReply(token); err != nil || claims.PrivacyRequestID != "pri_1" {
		t.Fatalf("verify: %+v, %v", claims, err)
	}
	if err := tok.Ready(context.Background()); err != nil || reads != 2 {
		t.Fatalf("Ready again: %v after %d reads, want no new read", err, reads)
	}
}
