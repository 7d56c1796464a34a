package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// The texts of the connection and webhook routes.
const (
	msgDuplicateWebhooks = "Check request body: there are multiple webhooks whose keys or names resolve to the same value."
	msgSecretsRequired   = "HttpsSchema must be supplied all of: ['url', 'authorization']."
	msgBadKey            = "FidesKeys must only contain alphanumeric characters, '.', '_', '<', '>' or '-'."
)

// msgNameTooLong is pydantic's text for a name over MaxNameLen.
var msgNameTooLong = maxLengthMsg(MaxNameLen)

// maxConfigBatch is the most items one PATCH /connection or PUT of webhooks takes.
const maxConfigBatch = 50

// retiredSigningSecretTTL is how long a signing secret replaced by a
// rotation still signs calls (24 h), so validators can switch
// over at their own pace.
const retiredSigningSecretTTL = 24 * time.Hour

// maxSigningSecrets bounds the secrets a webhook keeps (each costs a KMS
// Decrypt and a signature per call): rotating more often than this within
// retiredSigningSecretTTL retires the oldest early.
const maxSigningSecrets = 5

// conflictRetries is how often a use case rereads and retries after losing a
// conditional write before answering 409.
const conflictRetries = 5

// connectionNotFound is the 404 of GET /connection/{key} and the secret routes.
func connectionNotFound(key string) error {
	return &NotFoundError{Msg: "No connection config found with key " + key}
}

func webhookConnectionNotFound(key string) error {
	return &NotFoundError{Msg: fmt.Sprintf("No connection configuration found with key '%s'.", key)}
}

// webhookNotFound is the 404 of the webhook routes.
func webhookNotFound(key string) error {
	return &NotFoundError{Msg: fmt.Sprintf("No PreApprovalWebhook found for key %s.", key)}
}

// Admin holds the admin use cases for connections and webhooks.
type Admin struct {
	Store  ConfigStore
	Sealer Sealer
	Now    func() time.Time
	// NewSigningSecret makes a webhook signing secret ("whsec_...").
	NewSigningSecret func() (string, error)
	// CheckURL refuses a validator URL (SSRF guard).
	CheckURL func(ctx context.Context, url string) error
}

func connectionContext(key string) map[string]string { return map[string]string{"connection_key": key} }
func webhookContext(key string) map[string]string    { return map[string]string{"webhook_key": key} }

// ConnectionInput is one item of PATCH /connection.
type ConnectionInput struct {
	Key            *string `json:"key"`
	Name           *string `json:"name"`
	ConnectionType *string `json:"connection_type"`
	Access         *string `json:"access"`
	Description    *string `json:"description" nullable:"true"`
	Disabled       *bool   `json:"disabled" nullable:"true"`
}

// ValidateConnections checks a PATCH /connection body; all problems are reported.
func ValidateConnections(in []ConnectionInput) error {
	var fields []FieldError
	add := func(i int, field, msg, typ string) {
		fields = append(fields, FieldError{Loc: []any{"body", i, field}, Msg: msg, Type: typ})
	}
	if len(in) == 0 || len(in) > maxConfigBatch {
		return Invalid(fmt.Sprintf("ensure this value has between 1 and %d items", maxConfigBatch), "value_error.list", "body")
	}
	for i, c := range in {
		switch {
		case c.Name == nil || strings.TrimSpace(*c.Name) == "":
			add(i, "name", "field required", "value_error.missing")
		case tooLong(*c.Name, MaxNameLen):
			add(i, "name", msgNameTooLong, "value_error.any_str.max_length")
		}
		if c.ConnectionType == nil {
			add(i, "connection_type", "field required", "value_error.missing")
		} else if *c.ConnectionType != "https" {
			add(i, "connection_type", "value is not a valid enumeration member; permitted: 'https'", "type_error.enum")
		}
		if c.Access == nil {
			add(i, "access", "field required", "value_error.missing")
		} else if *c.Access != "read" && *c.Access != "write" {
			add(i, "access", "value is not a valid enumeration member; permitted: 'read', 'write'", "type_error.enum")
		}
		if c.Description != nil && tooLong(*c.Description, MaxDescriptionLen) {
			add(i, "description", maxLengthMsg(MaxDescriptionLen), "value_error.any_str.max_length")
		}
		if c.Key != nil || c.Name != nil && strings.TrimSpace(*c.Name) != "" {
			if f, bad := checkKey(connectionKey(c), "body", i, "key"); bad {
				fields = append(fields, f)
			}
		}
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	return nil
}

func connectionKey(c ConnectionInput) string {
	if c.Key != nil {
		return *c.Key
	}
	if c.Name != nil {
		return derivedKey(*c.Name)
	}
	return ""
}

// PatchFailure is one item PATCH /connection could not save.
type PatchFailure struct {
	Message string
	Data    ConnectionInput
}

// PatchConnections creates or updates connections by key (validated first).
func (a *Admin) PatchConnections(ctx context.Context, in []ConnectionInput) ([]Connection, []PatchFailure, error) {
	if err := ValidateConnections(in); err != nil {
		return nil, nil, err
	}
	var done []Connection
	var failed []PatchFailure
	for _, item := range in {
		c, err := a.patchConnection(ctx, item)
		if err != nil {
			var cf *ConflictError
			if !errors.As(err, &cf) {
				return nil, nil, err
			}
			failed = append(failed, PatchFailure{Message: cf.Msg, Data: item})
			continue
		}
		done = append(done, c)
	}
	return done, failed, nil
}

func (a *Admin) patchConnection(ctx context.Context, item ConnectionInput) (Connection, error) {
	key := connectionKey(item)
	for range conflictRetries {
		now := a.Now().UTC()
		old, err := a.Store.GetConnection(ctx, key)
		var nf *NotFoundError
		create := errors.As(err, &nf)
		if err != nil && !create {
			return Connection{}, err
		}
		c := old
		if create {
			c = Connection{Key: key, CreatedAt: now}
		}
		c.Name, c.ConnectionType, c.Access, c.UpdatedAt = strings.TrimSpace(*item.Name), *item.ConnectionType, *item.Access, now
		if item.Description != nil {
			c.Description = *item.Description
		}
		if item.Disabled != nil {
			c.Disabled = *item.Disabled
		}
		err = a.Store.SaveConnection(ctx, ConnectionPatch{Connection: c, Create: create})
		var cf *ConflictError
		if errors.As(err, &cf) || errors.As(err, &nf) {
			continue
		}
		return c, err
	}
	return Connection{}, &ConflictError{Msg: "Connection " + key + " changed concurrently; try again."}
}

// GetConnection returns one connection or 404.
func (a *Admin) GetConnection(ctx context.Context, key string) (Connection, error) {
	if len(key) > maxStoredKeyLen || !keyPattern().MatchString(key) {
		return Connection{}, connectionNotFound(key) // no connection was ever saved under it
	}
	c, err := a.Store.GetConnection(ctx, key)
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return Connection{}, connectionNotFound(key)
	}
	return c, err
}

// ListConnections returns every connection, newest first.
func (a *Admin) ListConnections(ctx context.Context) ([]Connection, error) {
	cs, err := a.Store.ListConnections(ctx)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(cs, func(x, y Connection) int {
		if c := y.CreatedAt.Compare(x.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(x.Key, y.Key)
	})
	return cs, nil
}

// SecretsInput is the body of PUT/PATCH /connection/{key}/secret.
type SecretsInput struct {
	URL           *string           `json:"url"`
	Authorization *string           `json:"authorization"`
	Headers       map[string]string `json:"headers"`
}

// SetSecrets replaces (merge=false) or merges into (merge=true) a
// connection's secrets, then validates and seals them. The write is
// conditional on the sealed secrets read, so of two concurrent merges
// neither loses the other's change: the later one re-reads and merges again.
func (a *Admin) SetSecrets(ctx context.Context, key string, in SecretsInput, merge bool) error {
	var nf *NotFoundError
	for range conflictRetries {
		stored, err := a.Store.GetSealedSecrets(ctx, key)
		if errors.As(err, &nf) {
			return connectionNotFound(key)
		}
		if err != nil {
			return err
		}
		var s Secrets
		var was []byte
		if stored != nil {
			was = stored.Sealed
			if merge {
				// The only decryption outside the dispatcher (docs/internals/storage.md).
				opened, err := a.openSealed(ctx, key, stored.Sealed)
				if err != nil {
					return err
				}
				s = *opened
			}
		}
		sealed, err := a.sealSecrets(ctx, key, s, in, merge)
		if err != nil {
			return err
		}
		err = a.Store.SaveSecrets(ctx, key, sealed, was, a.Now().UTC())
		var cf *ConflictError
		if errors.As(err, &cf) {
			continue
		}
		if errors.As(err, &nf) {
			return connectionNotFound(key)
		}
		return err
	}
	return &ConflictError{Msg: "Secrets of connection " + key + " changed concurrently; try again."}
}

// sealSecrets applies in to s (the stored secrets when merging), validates
// the result and seals it.
func (a *Admin) sealSecrets(ctx context.Context, key string, s Secrets, in SecretsInput, merge bool) (SealedSecrets, error) {
	if in.URL != nil {
		s.URL = *in.URL
	}
	if in.Authorization != nil {
		s.Authorization = *in.Authorization
	}
	if in.Headers != nil || !merge {
		s.Headers = in.Headers
	}
	if s.URL == "" || s.Authorization == "" {
		return SealedSecrets{}, Invalid(msgSecretsRequired, "value_error", "body")
	}
	if err := secretsWithinLimits(s); err != nil {
		return SealedSecrets{}, err
	}
	if err := validHeaders(s.Headers); err != nil {
		return SealedSecrets{}, err
	}
	if err := a.CheckURL(ctx, s.URL); err != nil {
		return SealedSecrets{}, Invalid(err.Error(), "value_error.url", "body", "url")
	}
	plain, err := json.Marshal(s)
	if err != nil {
		return SealedSecrets{}, err
	}
	if len(plain) > maxSecretsBytes {
		return SealedSecrets{}, Invalid(fmt.Sprintf("secrets must not exceed %d bytes", maxSecretsBytes), "value_error", "body")
	}
	sealed, err := a.Sealer.Seal(ctx, connectionContext(key), plain)
	if err != nil {
		return SealedSecrets{}, fmt.Errorf("seal secrets of connection %q: %w", key, err)
	}
	return SealedSecrets{View: SecretsView{URL: s.URL, HasHeaders: len(s.Headers) > 0}, Sealed: sealed}, nil
}

// secretsWithinLimits checks the lengths of the url, the authorization and
// the custom headers; all problems are reported.
func secretsWithinLimits(s Secrets) error {
	var fields []FieldError
	if tooLong(s.URL, MaxURLLen) {
		fields = append(fields, maxLengthError(MaxURLLen, "body", "url"))
	}
	if tooLong(s.Authorization, MaxAuthLen) {
		fields = append(fields, maxLengthError(MaxAuthLen, "body", "authorization"))
	}
	if len(s.Headers) > MaxHeaders {
		fields = append(fields, FieldError{Loc: []any{"body", "headers"}, Msg: fmt.Sprintf("ensure this value has at most %d items", MaxHeaders), Type: "value_error.dict.max_items"})
	}
	names := slices.Sorted(maps.Keys(s.Headers))
	for _, k := range names {
		if tooLong(k, MaxHeaderNameLen) {
			fields = append(fields, maxLengthError(MaxHeaderNameLen, "body", "headers", "__key__"))
		}
	}
	for _, k := range names {
		if tooLong(s.Headers[k], MaxHeaderValueLen) && !tooLong(k, MaxHeaderNameLen) {
			fields = append(fields, maxLengthError(MaxHeaderValueLen, "body", "headers", k))
		}
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	return nil
}

func validHeaders(h map[string]string) error {
	for k, v := range h {
		if k == "" || strings.ContainsAny(k, " :\r\n\t") || strings.ContainsAny(v, "\r\n") {
			return Invalid("invalid header name or value", "value_error", "body", "headers")
		}
	}
	return nil
}

// openSecrets reads and opens a connection's secrets (nil when none).
func (a *Admin) openSecrets(ctx context.Context, key string) (*Secrets, error) {
	stored, err := a.Store.GetSealedSecrets(ctx, key)
	if err != nil || stored == nil {
		return nil, err
	}
	return a.openSealed(ctx, key, stored.Sealed)
}

func (a *Admin) openSealed(ctx context.Context, key string, sealed []byte) (*Secrets, error) {
	plain, err := a.Sealer.Open(ctx, connectionContext(key), sealed)
	if err != nil {
		return nil, fmt.Errorf("open secrets of connection %q: %w", key, err)
	}
	var s Secrets
	if err := json.Unmarshal(plain, &s); err != nil {
		return nil, fmt.Errorf("secrets of connection %q: %w", key, err)
	}
	return &s, nil
}

// DeleteConnection deletes a connection and its webhooks in one transaction.
func (a *Admin) DeleteConnection(ctx context.Context, key string) error {
	for range conflictRetries {
		if _, err := a.GetConnection(ctx, key); err != nil {
			return err
		}
		set, err := a.Store.LoadWebhookSet(ctx)
		if err != nil {
			return err
		}
		kept := set
		kept.Webhooks = slices.DeleteFunc(slices.Clone(set.Webhooks), func(w StoredWebhook) bool { return w.ConnectionKey == key })
		err = a.Store.DeleteConnection(ctx, key, kept)
		var cf *ConflictError
		if !errors.As(err, &cf) {
			var nf *NotFoundError
			if errors.As(err, &nf) {
				return connectionNotFound(key)
			}
			return err
		}
	}
	return &ConflictError{Msg: "Configuration changed concurrently; try again."}
}
