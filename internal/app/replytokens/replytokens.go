// Package replytokens reads the reply-token key set (Secrets Manager) for
// the functions that mint or verify reply tokens.
package replytokens

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/keys"
)

// readTimeout bounds one read of the key set.
const readTimeout = 10 * time.Second

// The key set is read again, so a rotation reaches warm functions without
// recycling them: every RefreshAfter (checked when an invocation starts), and
// when a reply's token names a key the set does not hold, at most once per
// UnknownKIDEvery (a stream of junk tokens cannot turn into a stream of reads).
const (
	RefreshAfter    = 5 * time.Minute
	UnknownKIDEvery = 30 * time.Second
)

// Tokens mints and verifies reply tokens with the key set, read once per
// cold start. The read starts in the background when the function starts,
// so that init does not wait for it; each invocation waits for it (Ready)
// before it handles anything, and a failed read is tried again then, so the
// invocation fails (a 5xx, a retried batch) rather than init.
type Tokens struct {
	load   func(context.Context) (*keys.Tokens, error)
	first  chan struct{} // closed when the background read has ended
	mu     sync.Mutex    // one read at a time after the first
	tokens atomic.Pointer[keys.Tokens]
	now    func() time.Time // time.Now when nil
	// Under mu: when the set in use was read (or a refresh last tried), and
	// when an unknown kid last made it read again.
	readAt, kidReadAt time.Time
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
	t := &Tokens{first: make(chan struct{}), load: func(ctx context.Context) (*keys.Tokens, error) {
		ctx, cancel := context.WithTimeout(ctx, readTimeout)
		defer cancel()
		ks, err := keys.LoadKeySet(ctx, sm, d.Config.ReplyTokenSecretID)
		if err != nil {
			return nil, err
		}
		return keys.NewTokens(ks, d.Config.ReplyTokenTTL, d.Now), nil
	}}
	go func() {
		defer close(t.first)
		if tok, err := t.load(context.Background()); err == nil {
			t.tokens.Store(tok)
		}
	}()
	return t
}

// Ready waits for the key set, reading it again if the first read failed.
func (t *Tokens) Ready(ctx context.Context) error {
	select {
	case <-t.first:
	case <-ctx.Done():
		return ctx.Err()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock()
	if t.tokens.Load() != nil {
		if t.readAt.IsZero() {
			t.readAt = now // the background read
		}
		if now.Sub(t.readAt) >= RefreshAfter {
			t.readAt = now // tried: a failed refresh keeps the set in use until the next period
			if tok, err := t.load(ctx); err == nil {
				t.tokens.Store(tok)
			}
		}
		return nil
	}
	tok, err := t.load(ctx)
	if err != nil {
		return err
	}
	t.tokens.Store(tok)
	t.readAt = now
	return nil
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

var errNotReady = errors.New("reply-token key set not read yet")

// MintReply mints a reply token (gate.ReplyTokenMinter); Ready must have succeeded.
func (t *Tokens) MintReply(webhookKey, privacyRequestID string, run int) (string, error) {
	tok := t.tokens.Load()
	if tok == nil {
		return "", errNotReady
	}
	return tok.MintReply(webhookKey, privacyRequestID, run)
}

// VerifyReply checks a reply token (gate.ReplyTokenVerifier); Ready must have succeeded.
func (t *Tokens) VerifyReply(token string) (gate.ReplyClaims, error) {
	tok := t.tokens.Load()
	if tok == nil {
		return gate.ReplyClaims{}, errNotReady
	}
	c, err := tok.VerifyReply(token)
	if errors.Is(err, keys.ErrUnknownKID) && t.reloadForKID() {
		return t.tokens.Load().VerifyReply(token)
	}
	return c, err
}
