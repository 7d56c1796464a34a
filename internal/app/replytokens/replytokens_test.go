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

// A key rotation reaches a warm function without recycling it: a token of a
// key the set in use does not hold makes it read the set again (at most once
// per UnknownKIDEvery), and the set is read again every RefreshAfter.
func TestKeySetReloadsOnUnknownKIDAndAfterItsTTL(t *testing.T) {
	set := func(kid string) keys.KeySet {
		raw, err := keys.GenerateKeySetJSON(kid)
		if err != nil {
			t.Fatal(err)
		}
		ks, err := keys.ParseKeySet(raw)
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	old, rotated := set("k1"), set("k2")
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	current, reads := old, 0
	tok := &Tokens{first: make(chan struct{}), now: func() time.Time { return now },
		load: func(context.Context) (*keys.Tokens, error) {
			reads++
			return keys.NewTokens(current, time.Hour, time.Now), nil
		}}
	close(tok.first)
	if err := tok.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Another function already mints with the rotated set.
	newToken, err := keys.NewTokens(rotated, time.Hour, time.Now).Mint("hook", "pri_1")
	if err != nil {
		t.Fatal(err)
	}
	current = rotated
	if _, err := tok.VerifyReply(newToken); err != nil || reads != 2 {
		t.Fatalf("unknown kid: %v after %d reads, want accepted after a second read", err, reads)
	}
	// Junk kids within UnknownKIDEvery cause no read.
	junk, _ := keys.NewTokens(set("k9"), time.Hour, time.Now).Mint("hook", "pri_1")
	for range 3 {
		if _, err := tok.VerifyReply(junk); err == nil {
			t.Fatal("a token of an unknown key was accepted")
		}
	}
	if reads != 2 {
		t.Fatalf("%d reads after junk tokens within %s of the last, want none", reads, UnknownKIDEvery)
	}
	now = now.Add(UnknownKIDEvery)
	_, _ = tok.VerifyReply(junk)
	if reads != 3 {
		t.Fatalf("%d reads, want one more after UnknownKIDEvery", reads)
	}
	// The TTL: an invocation after RefreshAfter reads the set again.
	if err := tok.Ready(context.Background()); err != nil || reads != 3 {
		t.Fatalf("Ready within the TTL: %v, %d reads", err, reads)
	}
	now = now.Add(RefreshAfter)
	if err := tok.Ready(context.Background()); err != nil || reads != 4 {
		t.Fatalf("Ready after the TTL: %v, %d reads, want 4", err, reads)
	}
}
