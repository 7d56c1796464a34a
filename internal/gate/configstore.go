package gate

import (
	"context"
	"time"
)

// StoredWebhook is a webhook as kept in the webhook set, with its signing
// secrets sealed (newest first).
type StoredWebhook struct {
	Webhook
	SigningSecrets []SealedSigningSecret
}

// SealedSigningSecret is one signing secret of a webhook, sealed. The current
// secret has no end; one replaced by a rotation still signs until
// ValidUntil, so validators have that long to switch over.
type SealedSigningSecret struct {
	Sealed     []byte
	ValidUntil time.Time // zero: the current secret
}

// validAt reports whether the secret still signs at t.
func (s SealedSigningSecret) validAt(t time.Time) bool {
	return s.ValidUntil.IsZero() || t.Before(s.ValidUntil)
}

// WebhookSet is the whole configured set, read at one version.
type WebhookSet struct {
	Version  int64 // 0 = never written
	Webhooks []StoredWebhook
}

// ConnectionPatch is a connection create-or-update. On update only the
// descriptive fields change; created_at and secrets are kept. The store
// writes Connection.Version+1, on update only if the stored version is still
// Connection.Version (the one read), so no concurrent change is overwritten.
type ConnectionPatch struct {
	Connection Connection
	Create     bool // the connection must not exist yet
}

// SealedSecrets is a connection's secrets as stored: the URL in clear (it
// is shown to admins), the rest sealed.
type SealedSecrets struct {
	View   SecretsView
	Sealed []byte
}

// ConfigStore keeps connections and the webhook set. Every write is
// conditional: a lost race is a *ConflictError, a vanished item a *NotFoundError.
type ConfigStore interface {
	GetConnection(ctx context.Context, key string) (Connection, error)
	ListConnections(ctx context.Context) ([]Connection, error)
	SaveConnection(ctx context.Context, p ConnectionPatch) error
	// GetSealedSecrets returns nil when the connection has no secrets.
	GetSealedSecrets(ctx context.Context, key string) (*SealedSecrets, error)
	// SaveSecrets replaces the secrets of an existing connection if its
	// sealed secrets are still was (the ones read; nil when none were).
	SaveSecrets(ctx context.Context, key string, s SealedSecrets, was []byte, updatedAt time.Time) error
	// DeleteConnection deletes the connection and, in the same transaction,
	// replaces the webhook set (read at set.Version) with set.Webhooks.
	DeleteConnection(ctx context.Context, key string, set WebhookSet) error
	LoadWebhookSet(ctx context.Context) (WebhookSet, error)
	// SaveWebhookSet writes set.Webhooks as version set.Version+1 if the
	// stored version is still set.Version and every connection in
	// connectionKeys still exists.
	SaveWebhookSet(ctx context.Context, set WebhookSet, connectionKeys []string) error
}

// Sealer encrypts and decrypts small secrets bound to an encryption context
// (KMS in AWS and against the emulator).
type Sealer interface {
	Seal(ctx context.Context, encryptionContext map[string]string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, encryptionContext map[string]string, sealed []byte) ([]byte, error)
}
