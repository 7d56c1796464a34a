// Package replytokens reads the reply-token key set (Secrets Manager) for
// the functions that mint or verify reply tokens.
package replytokens

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/keys"
)

// readTimeout bounds one read of the key set: a hung read gives way to the
// next try well within an invocation.
const readTimeout = 5 * time.Second

// WaitLimit bounds how long an invocation waits for the key set before it
// fails (a 5xx the validator retries, a retried batch): API Gateway ends a
// request after 30 s, and a reply still has its writes to make. The wait
// also ends deadlineMargin before the invocation's own deadline, so that
// the function answers rather than being timed out.
const (
	WaitLimit      = 20 * time.Second
	deadlineMargin = 2 * time.Second
)

// A failed first read is tried again in the background, after a delay that
// doubles from firstRetry up to maxRetry (with jitter), until one succeeds:
// a throttled or not yet permitted read at a cold start must not leave the
// instance without keys for its whole life.
const (
	firstRetry = 100 * time.Millisecond
	maxRetry   = 5 * time.Second
)

// The key set is read again, so a rotation reaches warm functions without
// recycling them: every RefreshAfter (checked when an invocation starts), and
// when a reply's token names a key the set does not hold, at most once per
// UnknownKIDEvery (a stream of junk tokens cannot turn into a stream of reads).
const (
	RefreshAfter    = 5 * time.Minute
	UnknownKIDEvery = 30 * time.Second
)

// ErrNotReady is Ready's answer when the key set could not be read within
// WaitLimit (or the invocation's own deadline).
var ErrNotReady = errors.New("reply-token key set not read yet")

// Tokens mints and verifies reply tokens with the key set, read once per
// cold start. The read starts in the background when the function starts,
// so that init does not wait for it, and is tried again until it succeeds;
// each invocation that mints or verifies waits for it (Ready), at most
// WaitLimit, so that it fails (a 5xx, a retried batch) rather than refuse a
// valid token.
type Tokens struct {
	load   func(context.Context) (*keys.Tokens, error)
	log    *slog.Logger
	first  chan struct{} // closed when a first read has succeeded
	mu     sync.Mutex    // one read at a time after the first
	tokens atomic.Pointer[keys.Tokens]
	now    func() time.Time // time.Now when nil
	// Under mu: when the set in use was read (or a refresh last tried), and
	// when an unknown kid last made it read again.
	readAt, kidReadAt time.Time
	// sleep waits between failed first reads (a timer when nil).
	sleep func(time.Duration)
}

func (t *Tokens) clock() time.Time {
	if t.now == nil {
		return time.Now()
	}
	return t.now()
}

// Start begins reading the key set of d.Config.ReplyTokenSecretID.
func Start(d app.Deps) *Tokens {
	sm := secretsmanager.NewFromConfig(d.AWS)
	t := &Tokens{first: make(chan struct{}), log: d.Log, load: func(ctx context.Context) (*keys.Tokens, error) {
		ctx, cancel := context.WithTimeout(ctx, readTimeout)
		defer cancel()
		ks, err := keys.LoadKeySet(ctx, sm, d.Config.ReplyTokenSecretID)
		if err != nil {
			return nil, err
		}
		return keys.NewTokens(ks, d.Config.ReplyTokenTTL, d.Now), nil
	}}
	go t.readFirst()
	return t
}

// readFirst reads the key set until a read succeeds.
func (t *Tokens) readFirst() {
	wait := firstRetry
	for {
		tok, err := t.load(context.Background())
		if err == nil {
			t.mu.Lock()
			t.tokens.Store(tok)
			t.readAt = t.clock()
			t.mu.Unlock()
			close(t.first)
			return
		}
		t.log.Warn("reply-token key set read failed; trying again", "error", err.Error(), "retry_in_ms", wait.Milliseconds())
		if t.sleep != nil {
			t.sleep(wait)
		} else {
			// Jitter over half the delay: instances started together do not read together.
			time.Sleep(wait/2 + rand.N(wait/2+1))
		}
		wait = min(2*wait, maxRetry)
	}
}

// Ready waits for the key set (at most WaitLimit), and reads it again when
// the set in use is older than RefreshAfter.
func (t *Tokens) Ready(ctx context.Context) error {
	if err := t.waitFirst(ctx); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock()
	if now.Sub(t.readAt) >= RefreshAfter {
		t.readAt = now // tried: a failed refresh keeps the set in use until the next period
		if tok, err := t.load(ctx); err == nil {
			t.tokens.Store(tok)
		} else {
			t.log.WarnContext(ctx, "reply-token key set refresh failed; the set in use is kept", "error", err.Error())
		}
	}
	return nil
}

// waitFirst waits for the first read to succeed, at most WaitLimit.
func (t *Tokens) waitFirst(ctx context.Context) error {
	select {
	case <-t.first:
		return nil
	default:
	}
	wait := WaitLimit
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)-deadlineMargin)
	}
	limit := time.NewTimer(wait)
	defer limit.Stop()
	select {
	case <-t.first:
		return nil
	case <-limit.C:
		return fmt.Errorf("%w after %s", ErrNotReady, wait)
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrNotReady, ctx.Err())
	}
}

// reloadForKID reads the set again after a token named a key it does not
// hold, unless that was done less than UnknownKIDEvery ago; it says whether
// a new set is in use.
func (t *Tokens) reloadForKID() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock()
	if !t.kidReadAt.IsZero() && now.Sub(t.kidReadAt) < UnknownKIDEvery {
		return false
	}
	t.kidReadAt = now
	tok, err := t.load(context.Background())
	if err != nil {
		return false
	}
	t.tokens.Store(tok)
	t.readAt = now
	return true
}

// MintReply mints a reply token (gate.ReplyTokenMinter); Ready must have succeeded.
func (t *Tokens) MintReply(webhookKey, privacyRequestID string, run int) (string, error) {
	tok := t.tokens.Load()
	if tok == nil {
		return "", ErrNotReady
	}
	return tok.MintReply(webhookKey, privacyRequestID, run)
}

// VerifyReply checks a reply token (gate.ReplyTokenVerifier); Ready must have succeeded.
func (t *Tokens) VerifyReply(token string) (gate.ReplyClaims, error) {
	tok := t.tokens.Load()
	if tok == nil {
		return gate.ReplyClaims{}, ErrNotReady
	}
	c, err := tok.VerifyReply(token)
	if errors.Is(err, keys.ErrUnknownKID) && t.reloadForKID() {
		return t.tokens.Load().VerifyReply(token)
	}
	return c, err
}
