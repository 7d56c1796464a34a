package replytokens

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pregate/pregate/internal/keys"
)

func keySet(t *testing.T, kid string) keys.KeySet {
	t.Helper()
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

// started is Start's Tokens with load in place of Secrets Manager, the
// clock now, and the waits between failed first reads recorded instead of
// slept.
func started(load func(context.Context) (*keys.Tokens, error), now func() time.Time) (*Tokens, func() []time.Duration) {
	var mu sync.Mutex
	var waits []time.Duration
	t := &Tokens{first: make(chan struct{}), load: load, now: now, log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		sleep: func(d time.Duration) { mu.Lock(); waits = append(waits, d); mu.Unlock() }}
	go t.readFirst()
	return t, func() []time.Duration { mu.Lock(); defer mu.Unlock(); return slices.Clone(waits) }
}

// A failed first read (Secrets Manager throttled, a permission not yet in
// effect after a deploy) is tried again with a growing delay until one
// succeeds; Ready waits for it, and until then nothing is minted or verified.
func TestFirstReadIsTriedAgainUntilItSucceeds(t *testing.T) {
	ks := keySet(t, "k1")
	var mu sync.Mutex
	reads := 0
	release := make(chan struct{})
	tok, waits := started(func(context.Context) (*keys.Tokens, error) {
		mu.Lock()
		reads++
		n := reads
		mu.Unlock()
		if n <= 3 {
			return nil, errors.New("ThrottlingException: rate exceeded")
		}
		<-release
		return keys.NewTokens(ks, time.Hour, time.Now), nil
	}, nil)
	if _, err := tok.MintReply("hook", "pri_1", 0); !errors.Is(err, ErrNotReady) {
		t.Fatalf("minted before the key set was read: %v", err)
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := tok.Ready(short); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Ready before any read succeeded: %v, want ErrNotReady", err)
	}
	close(release)
	if err := tok.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := waits(), []time.Duration{firstRetry, 2 * firstRetry, 4 * firstRetry}; !slices.Equal(got, want) {
		t.Fatalf("waits between reads %v, want %v", got, want)
	}
	token, err := tok.MintReply("hook", "pri_1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if claims, err := tok.VerifyReply(token); err != nil || claims.PrivacyRequestID != "pri_1" {
		t.Fatalf("verify: %+v, %v", claims, err)
	}
	if err := tok.Ready(context.Background()); err != nil || reads != 4 {
		t.Fatalf("Ready again: %v after %d reads, want no new read", err, reads)
	}
}

// The delay between reads stops growing at maxRetry.
func TestRetryDelayIsCapped(t *testing.T) {
	ks := keySet(t, "k1")
	reads := 0
	tok, waits := started(func(context.Context) (*keys.Tokens, error) {
		reads++
		if reads <= 10 {
			return nil, errors.New("unavailable")
		}
		return keys.NewTokens(ks, time.Hour, time.Now), nil
	}, nil)
	if err := tok.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := waits()
	if len(got) != 10 || got[len(got)-1] != maxRetry || slices.Max(got) != maxRetry {
		t.Fatalf("waits %v, want 10 growing to %s", got, maxRetry)
	}
}

// Ready stops waiting deadlineMargin before the invocation's deadline, so
// the function answers (a 5xx) instead of being timed out.
func TestReadyAnswersBeforeTheInvocationDeadline(t *testing.T) {
	tok, _ := started(func(ctx context.Context) (*keys.Tokens, error) {
		<-ctx.Done() // never answers
		return nil, ctx.Err()
	}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), deadlineMargin+100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := tok.Ready(ctx)
	if !errors.Is(err, ErrNotReady) || ctx.Err() != nil {
		t.Fatalf("Ready: %v after %s; want ErrNotReady before the deadline", err, time.Since(start))
	}
}

// A key rotation reaches a warm function without recycling it: a token of a
// key the set in use does not hold makes it read the set again (at most once
// per UnknownKIDEvery), and the set is read again every RefreshAfter.
func TestKeySetReloadsOnUnknownKIDAndAfterItsTTL(t *testing.T) {
	old, rotated := keySet(t, "k1"), keySet(t, "k2")
	var mu sync.Mutex
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	current, reads := old, 0
	tok, _ := started(func(context.Context) (*keys.Tokens, error) {
		mu.Lock()
		defer mu.Unlock()
		reads++
		return keys.NewTokens(current, time.Hour, time.Now), nil
	}, clock)
	if err := tok.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Another function already mints with the rotated set.
	newToken, err := keys.NewTokens(rotated, time.Hour, time.Now).Mint("hook", "pri_1")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	current = rotated
	mu.Unlock()
	if _, err := tok.VerifyReply(newToken); err != nil || reads != 2 {
		t.Fatalf("unknown kid: %v after %d reads, want accepted after a second read", err, reads)
	}
	// Junk kids within UnknownKIDEvery cause no read.
	junk, _ := keys.NewTokens(keySet(t, "k9"), time.Hour, time.Now).Mint("hook", "pri_1")
	for range 3 {
		if _, err := tok.VerifyReply(junk); err == nil {
			t.Fatal("a token of an unknown key was accepted")
		}
	}
	if reads != 2 {
		t.Fatalf("%d reads after junk tokens within %s of the last, want none", reads, UnknownKIDEvery)
	}
	advance(UnknownKIDEvery)
	_, _ = tok.VerifyReply(junk)
	if reads != 3 {
		t.Fatalf("%d reads, want one more after UnknownKIDEvery", reads)
	}
	// The TTL: an invocation after RefreshAfter reads the set again.
	if err := tok.Ready(context.Background()); err != nil || reads != 3 {
		t.Fatalf("Ready within the TTL: %v, %d reads", err, reads)
	}
	advance(RefreshAfter)
	if err := tok.Ready(context.Background()); err != nil || reads != 4 {
		t.Fatalf("Ready after the TTL: %v, %d reads, want 4", err, reads)
	}
}
