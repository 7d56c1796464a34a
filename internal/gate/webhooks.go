package gate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// WebhookInput is one item of PUT /dsr/webhook/pre_approval, or the body of
// its PATCH (where every field is optional and the key is not allowed).
type WebhookInput struct {
	Key                 *string   `json:"key,omitempty"`
	Name                *string   `json:"name"`
	ConnectionConfigKey *string   `json:"connection_config_key"`
	PolicyActions       *[]string `json:"policy_actions,omitempty"`
	Mode                *string   `json:"mode,omitempty"`
}

// scope reads the scope and the mode of in (every action and enforce when
// omitted), or the problems with them, located at loc.
func (in WebhookInput) scope(loc ...any) ([]string, WebhookMode, []FieldError) {
	var fields []FieldError
	actions, bad := parsePolicyActions(in.PolicyActions, append(slices.Clone(loc), "policy_actions")...)
	if bad != nil {
		fields = append(fields, *bad)
	}
	mode, bad := parseMode(in.Mode, append(slices.Clone(loc), "mode")...)
	if bad != nil {
		fields = append(fields, *bad)
	}
	return actions, mode, fields
}

// WebhookView is a webhook with its connection, as the API shows it.
// SigningSecret is set only in the answer that created or rotated it.
type WebhookView struct {
	Webhook
	Connection    *Connection
	SigningSecret string
}

func webhookKey(in WebhookInput) string {
	if in.Key != nil {
		return *in.Key
	}
	if in.Name != nil {
		return derivedKey(*in.Name)
	}
	return ""
}

// validateWebhookSet checks the shape of a PUT body (422) and then duplicate
// keys and names (400).
func validateWebhookSet(in []WebhookInput) error {
	if len(in) > maxConfigBatch {
		return Invalid(fmt.Sprintf("ensure this value has at most %d items", maxConfigBatch), "value_error.list.max_items", "body")
	}
	var fields []FieldError
	add := func(i int, field, msg, typ string) {
		fields = append(fields, FieldError{Loc: []any{"body", i, field}, Msg: msg, Type: typ})
	}
	for i, w := range in {
		nameOK := false
		switch {
		case w.Name == nil || strings.TrimSpace(*w.Name) == "":
			add(i, "name", "field required", "value_error.missing")
		case tooLong(*w.Name, MaxNameLen):
			add(i, "name", msgNameTooLong, "value_error.any_str.max_length")
		default:
			nameOK = true
		}
		switch {
		case w.ConnectionConfigKey == nil || *w.ConnectionConfigKey == "":
			add(i, "connection_config_key", "field required", "value_error.missing")
		case tooLong(*w.ConnectionConfigKey, MaxKeyLen):
			add(i, "connection_config_key", maxLengthMsg(MaxKeyLen), "value_error.any_str.max_length")
		}
		if w.Key != nil || nameOK {
			if f, bad := checkKey(webhookKey(w), "body", i, "key"); bad {
				fields = append(fields, f)
			}
		}
		_, _, bad := w.scope("body", i)
		fields = append(fields, bad...)
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	keys, names := map[string]bool{}, map[string]bool{}
	for _, w := range in {
		k, n := webhookKey(w), strings.TrimSpace(*w.Name)
		if keys[k] || names[n] {
			return &BadRequestError{Msg: msgDuplicateWebhooks}
		}
		keys[k], names[n] = true, true
	}
	return nil
}

// WebhookViews returns the configured webhooks with their connections, newest first.
func (a *Admin) WebhookViews(ctx context.Context) ([]WebhookView, error) {
	set, err := a.Store.LoadWebhookSet(ctx)
	if err != nil {
		return nil, err
	}
	ws := slices.Clone(set.Webhooks)
	slices.SortStableFunc(ws, func(x, y StoredWebhook) int { return y.CreatedAt.Compare(x.CreatedAt) })
	return a.views(ctx, ws, nil)
}

// GetWebhook returns one webhook or 404.
func (a *Admin) GetWebhook(ctx context.Context, key string) (WebhookView, error) {
	set, i, err := a.loadWebhook(ctx, key)
	if err != nil {
		return WebhookView{}, err
	}
	vs, err := a.views(ctx, set.Webhooks[i:i+1], nil)
	if err != nil {
		return WebhookView{}, err
	}
	return vs[0], nil
}

// loadWebhook reads the set and finds key in it, or says 404.
func (a *Admin) loadWebhook(ctx context.Context, key string) (WebhookSet, int, error) {
	set, err := a.Store.LoadWebhookSet(ctx)
	if err != nil {
		return WebhookSet{}, -1, err
	}
	i := findWebhook(set, key)
	if i < 0 {
		return WebhookSet{}, -1, webhookNotFound(key)
	}
	return set, i, nil
}

func findWebhook(set WebhookSet, key string) int {
	return slices.IndexFunc(set.Webhooks, func(w StoredWebhook) bool { return w.Key == key })
}

// views joins webhooks with their connections; fresh maps new signing secrets by webhook key.
func (a *Admin) views(ctx context.Context, ws []StoredWebhook, fresh map[string]string) ([]WebhookView, error) {
	conns, err := a.Store.ListConnections(ctx)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*Connection{}
	for i := range conns {
		byKey[conns[i].Key] = &conns[i]
	}
	out := make([]WebhookView, 0, len(ws))
	for _, w := range ws {
		out = append(out, WebhookView{Webhook: w.Webhook, Connection: byKey[w.ConnectionKey], SigningSecret: fresh[w.Key]})
	}
	return out, nil
}

// ReplaceWebhooks replaces the whole webhook set: all or nothing.
func (a *Admin) ReplaceWebhooks(ctx context.Context, in []WebhookInput) ([]WebhookView, error) {
	if err := validateWebhookSet(in); err != nil {
		return nil, err
	}
	var connKeys []string
	for _, w := range in {
		if !slices.Contains(connKeys, *w.ConnectionConfigKey) {
			connKeys = append(connKeys, *w.ConnectionConfigKey)
		}
	}
	for _, k := range connKeys {
		if err := a.connectionExists(ctx, k); err != nil {
			return nil, err
		}
	}
	for i, w := range in {
		if err := a.connectionHasSecrets(ctx, *w.ConnectionConfigKey, "body", i, "connection_config_key"); err != nil {
			return nil, err
		}
	}
	for range conflictRetries {
		set, err := a.Store.LoadWebhookSet(ctx)
		if err != nil {
			return nil, err
		}
		now := a.Now().UTC()
		next := WebhookSet{Version: set.Version}
		fresh := map[string]string{}
		for _, w := range in {
			key := webhookKey(w)
			sw := StoredWebhook{Webhook: Webhook{Key: key, CreatedAt: now}}
			if i := findWebhook(set, key); i >= 0 {
				sw = set.Webhooks[i]
			} else {
				secret, sealed, err := a.newSigningSecret(ctx, key)
				if err != nil {
					return nil, err
				}
				fresh[key], sw.SigningSecrets = secret, []SealedSigningSecret{{Sealed: sealed}}
			}
			sw.Name, sw.ConnectionKey, sw.UpdatedAt = strings.TrimSpace(*w.Name), *w.ConnectionConfigKey, now
			sw.PolicyActions, sw.Mode, _ = w.scope() // validated above; omitted, every action and enforce
			next.Webhooks = append(next.Webhooks, sw)
		}
		err = a.Store.SaveWebhookSet(ctx, next, connKeys)
		if err == nil {
			return a.views(ctx, next.Webhooks, fresh)
		}
		if err := a.afterLostWrite(ctx, err, connKeys); err != nil {
			return nil, err
		}
	}
	return nil, &ConflictError{Msg: "Pre-approval webhooks changed concurrently; try again."}
}

// afterLostWrite turns a failed conditional set write into the user's error,
// or nil when the caller should reread and retry.
func (a *Admin) afterLostWrite(ctx context.Context, err error, connKeys []string) error {
	var cf *ConflictError
	if !errors.As(err, &cf) {
		return err
	}
	for _, k := range connKeys {
		if err := a.connectionExists(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

func (a *Admin) connectionExists(ctx context.Context, key string) error {
	_, err := a.Store.GetConnection(ctx, key)
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return webhookConnectionNotFound(key)
	}
	return err
}

// connectionHasSecrets refuses (422, at loc) a webhook on a connection
// without secrets: it could never be called, and every request would wait
// on it. Secrets cannot be removed from a connection once set (they are only
// replaced, and deleting the connection deletes its webhooks), so a webhook
// accepted here keeps a connection with secrets.
func (a *Admin) connectionHasSecrets(ctx context.Context, key string, loc ...any) error {
	s, err := a.Store.GetSealedSecrets(ctx, key)
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return webhookConnectionNotFound(key)
	}
	if err != nil {
		return err
	}
	if s == nil {
		return Invalid(fmt.Sprintf("Connection '%s' has no secrets: set its url and authorization (PUT /connection/%s/secret) before configuring a webhook on it.", key, key),
			"value_error.missing_secrets", loc...)
	}
	return nil
}

func (a *Admin) newSigningSecret(ctx context.Context, webhookKey string) (string, []byte, error) {
	secret, err := a.NewSigningSecret()
	if err != nil {
		return "", nil, err
	}
	sealed, err := a.Sealer.Seal(ctx, webhookContext(webhookKey), []byte(secret))
	if err != nil {
		return "", nil, fmt.Errorf("seal signing secret of webhook %q: %w", webhookKey, err)
	}
	return secret, sealed, nil
}

// PatchWebhook renames a webhook, moves it to another connection, or
// changes its scope or its mode; an omitted field is kept. A change of scope
// or mode applies to requests submitted afterwards: a request keeps the
// snapshot it took.
func (a *Admin) PatchWebhook(ctx context.Context, key string, in WebhookInput) (WebhookView, error) {
	if in.Key != nil {
		return WebhookView{}, Invalid("extra fields not permitted", "value_error.extra", "body", "key")
	}
	actions, mode, bad := in.scope("body")
	if len(bad) > 0 {
		return WebhookView{}, &ValidationError{Fields: bad}
	}
	if in.Name != nil && strings.TrimSpace(*in.Name) == "" {
		return WebhookView{}, Invalid("invalid name", "value_error", "body", "name")
	}
	if in.Name != nil && tooLong(*in.Name, MaxNameLen) {
		return WebhookView{}, Invalid(msgNameTooLong, "value_error.any_str.max_length", "body", "name")
	}
	if in.ConnectionConfigKey != nil && *in.ConnectionConfigKey == "" {
		return WebhookView{}, Invalid("invalid connection_config_key", "value_error", "body", "connection_config_key")
	}
	if in.ConnectionConfigKey != nil && tooLong(*in.ConnectionConfigKey, MaxKeyLen) {
		return WebhookView{}, Invalid(maxLengthMsg(MaxKeyLen), "value_error.any_str.max_length", "body", "connection_config_key")
	}
	return a.updateWebhook(ctx, key, func(set WebhookSet, w *StoredWebhook) (string, error) {
		if in.Name != nil {
			name := strings.TrimSpace(*in.Name)
			for _, o := range set.Webhooks {
				if o.Key != key && o.Name == name {
					return "", &BadRequestError{Msg: msgDuplicateWebhooks}
				}
			}
			w.Name = name
		}
		if in.ConnectionConfigKey != nil && *in.ConnectionConfigKey != w.ConnectionKey {
			if err := a.connectionHasSecrets(ctx, *in.ConnectionConfigKey, "body", "connection_config_key"); err != nil {
				return "", err
			}
			w.ConnectionKey = *in.ConnectionConfigKey
		}
		if in.PolicyActions != nil {
			w.PolicyActions = actions
		}
		if in.Mode != nil {
			w.Mode = mode
		}
		return "", nil
	})
}

// RotateSigningSecret gives a webhook a new signing secret; the current one
// goes on signing for retiredSigningSecretTTL, and those retired longer ago
// are dropped.
func (a *Admin) RotateSigningSecret(ctx context.Context, key string) (WebhookView, error) {
	return a.updateWebhook(ctx, key, func(_ WebhookSet, w *StoredWebhook) (string, error) {
		secret, sealed, err := a.newSigningSecret(ctx, key)
		if err != nil {
			return "", err
		}
		w.SigningSecrets = rotate(w.SigningSecrets, sealed, a.Now().UTC())
		return secret, nil
	})
}

// rotate puts sealed first as the current secret, retires the previous
// current one at now+retiredSigningSecretTTL and keeps the retired ones still
// valid at now, at most maxSigningSecrets in all (newest first).
func rotate(old []SealedSigningSecret, sealed []byte, now time.Time) []SealedSigningSecret {
	next := []SealedSigningSecret{{Sealed: sealed}}
	for _, s := range old {
		if s.ValidUntil.IsZero() {
			s.ValidUntil = now.Add(retiredSigningSecretTTL)
		}
		if s.validAt(now) && len(next) < maxSigningSecrets {
			next = append(next, s)
		}
	}
	return next
}

func (a *Admin) updateWebhook(ctx context.Context, key string, change func(WebhookSet, *StoredWebhook) (string, error)) (WebhookView, error) {
	for range conflictRetries {
		set, i, err := a.loadWebhook(ctx, key)
		if err != nil {
			return WebhookView{}, err
		}
		next := WebhookSet{Version: set.Version, Webhooks: slices.Clone(set.Webhooks)}
		w := &next.Webhooks[i]
		secret, err := change(set, w)
		if err != nil {
			return WebhookView{}, err
		}
		if err := a.connectionExists(ctx, w.ConnectionKey); err != nil {
			return WebhookView{}, err
		}
		w.UpdatedAt = a.Now().UTC()
		err = a.Store.SaveWebhookSet(ctx, next, []string{w.ConnectionKey})
		if err == nil {
			vs, err := a.views(ctx, next.Webhooks[i:i+1], map[string]string{key: secret})
			if err != nil {
				return WebhookView{}, err
			}
			return vs[0], nil
		}
		if err := a.afterLostWrite(ctx, err, []string{w.ConnectionKey}); err != nil {
			return WebhookView{}, err
		}
	}
	return WebhookView{}, &ConflictError{Msg: "Pre-approval webhooks changed concurrently; try again."}
}

// DeleteWebhook removes one webhook from the set.
func (a *Admin) DeleteWebhook(ctx context.Context, key string) error {
	for range conflictRetries {
		set, i, err := a.loadWebhook(ctx, key)
		if err != nil {
			return err
		}
		next := WebhookSet{Version: set.Version, Webhooks: slices.Delete(slices.Clone(set.Webhooks), i, i+1)}
		err = a.Store.SaveWebhookSet(ctx, next, nil)
		var cf *ConflictError
		if !errors.As(err, &cf) {
			return err
		}
	}
	return &ConflictError{Msg: "Pre-approval webhooks changed concurrently; try again."}
}
