package gate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// TargetCache opens delivery targets for the dispatcher and keeps what it
// read in memory for TTL (DISPATCH_CONFIG_TTL): the webhook set, each
// connection's opened secrets and each opened signing secret. Within one
// DeliveryTargets call every config item is read at most once, whatever the
// TTL, so a batch of M deliveries costs at most one webhook-set read, one
// read and decryption per connection and one decryption per signing secret.
// What is missing from the cache is read again at once (still once per
// call): a webhook created a moment ago, which a new request may already
// have in its snapshot, or secrets just set, are never reported missing
// because of the cache. What is present may be up to TTL old: a webhook
// deleted, or secrets changed, reach the dispatcher within TTL.
type TargetCache struct {
	Admin *Admin
	TTL   time.Duration
	Now   func() time.Time

	// mu is held for a whole lookup: concurrent batches of one process share
	// one read of each item instead of racing to read it.
	mu      sync.Mutex
	call    int64 // lookups so far; an entry read in the current one is fresh
	set     cached[WebhookSet]
	secrets map[string]cached[*Secrets] // by connection key
	signing map[string]cached[string]   // by sealed ciphertext: a rotation is a new entry
}

type cached[T any] struct {
	val  T
	at   time.Time
	call int64
}

func (c *TargetCache) fresh(at time.Time, call int64, now time.Time) bool {
	return call == c.call || now.Sub(at) < c.TTL
}

var _ DeliveryTargets = (*TargetCache)(nil)

// NoSecretsError is a webhook whose connection has no secrets: it cannot be
// called until an admin sets them, so its delivery fails at once.
type NoSecretsError struct{ ConnectionKey string }

func (e *NoSecretsError) Error() string {
	return fmt.Sprintf("its connection '%s' has no secrets", e.ConnectionKey)
}

// UnopenableSecretsError is a secret of a webhook that could not be opened
// (KMS refused or failed): a fault of ours, retried a few times before the
// delivery fails.
type UnopenableSecretsError struct {
	What string // e.g. "the secrets of its connection 'crm'"
	Err  error
}

func (e *UnopenableSecretsError) Error() string { return e.Err.Error() }

func (e *UnopenableSecretsError) Unwrap() error { return e.Err }

// DeliveryTargets opens the targets of webhookKeys (see TargetResult).
func (c *TargetCache) DeliveryTargets(ctx context.Context, webhookKeys []string) map[string]TargetResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.call++
	now := c.Now()
	c.prune(now)
	out := make(map[string]TargetResult, len(webhookKeys))
	if !c.fresh(c.set.at, c.set.call, now) || c.set.call != c.call && !c.hasAll(webhookKeys) {
		set, err := c.Admin.Store.LoadWebhookSet(ctx)
		if err != nil {
			for _, k := range webhookKeys {
				out[k] = TargetResult{Err: err}
			}
			return out
		}
		c.set = cached[WebhookSet]{val: set, at: now, call: c.call}
	}
	for _, k := range webhookKeys {
		if _, done := out[k]; !done {
			t, err := c.target(ctx, k, now)
			out[k] = TargetResult{Target: t, Err: err}
		}
	}
	return out
}

func (c *TargetCache) hasAll(webhookKeys []string) bool {
	for _, k := range webhookKeys {
		if findWebhook(c.set.val, k) < 0 {
			return false
		}
	}
	return true
}

// prune drops the entries no longer fresh, so that rotated secrets and
// deleted connections do not pile up in a warm process.
func (c *TargetCache) prune(now time.Time) {
	for k, e := range c.secrets {
		if !c.fresh(e.at, e.call, now) {
			delete(c.secrets, k)
		}
	}
	for k, e := range c.signing {
		if !c.fresh(e.at, e.call, now) {
			delete(c.signing, k)
		}
	}
}

func (c *TargetCache) target(ctx context.Context, webhookKey string, now time.Time) (DeliveryTarget, error) {
	i := findWebhook(c.set.val, webhookKey)
	if i < 0 {
		return DeliveryTarget{}, &NotFoundError{Msg: fmt.Sprintf("No Pre-Approval Webhook found with id '%s'.", webhookKey)}
	}
	w := c.set.val.Webhooks[i]
	s, err := c.openSecrets(ctx, w.ConnectionKey, now)
	var nf *NotFoundError
	if errors.As(err, &nf) || err == nil && s == nil {
		return DeliveryTarget{}, &NoSecretsError{ConnectionKey: w.ConnectionKey}
	}
	if err != nil {
		return DeliveryTarget{}, &UnopenableSecretsError{What: fmt.Sprintf("the secrets of its connection '%s'", w.ConnectionKey), Err: err}
	}
	t := DeliveryTarget{Webhook: w.Webhook, URL: s.URL, Authorization: s.Authorization, Headers: s.Headers}
	for _, s := range w.SigningSecrets {
		if !s.validAt(now) {
			continue // replaced by a rotation at least retiredSigningSecretTTL ago
		}
		plain, err := c.openSigning(ctx, webhookKey, s.Sealed, now)
		if err != nil {
			return DeliveryTarget{}, &UnopenableSecretsError{What: "its signing secret", Err: fmt.Errorf("open signing secret of webhook %q: %w", webhookKey, err)}
		}
		t.SigningSecrets = append(t.SigningSecrets, plain)
	}
	return t, nil
}

func (c *TargetCache) openSecrets(ctx context.Context, connectionKey string, now time.Time) (*Secrets, error) {
	if e, ok := c.secrets[connectionKey]; ok && c.fresh(e.at, e.call, now) && (e.val != nil || e.call == c.call) {
		return e.val, nil
	}
	s, err := c.Admin.openSecrets(ctx, connectionKey)
	if err != nil {
		return nil, err
	}
	if c.secrets == nil {
		c.secrets = map[string]cached[*Secrets]{}
	}
	c.secrets[connectionKey] = cached[*Secrets]{val: s, at: now, call: c.call}
	return s, nil
}

func (c *TargetCache) openSigning(ctx context.Context, webhookKey string, sealed []byte, now time.Time) (string, error) {
	if e, ok := c.signing[string(sealed)]; ok && c.fresh(e.at, e.call, now) {
		return e.val, nil
	}
	plain, err := c.Admin.Sealer.Open(ctx, webhookContext(webhookKey), sealed)
	if err != nil {
		return "", err
	}
	if c.signing == nil {
		c.signing = map[string]cached[string]{}
	}
	c.signing[string(sealed)] = cached[string]{val: string(plain), at: now, call: c.call}
	return string(plain), nil
}
