package gate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// AddWebhook adds one webhook to the set (POST /dsr/webhook/pre_approval,
// beyond Fides): the webhooks already configured always remain, whatever
// another admin writes meanwhile (the set's write is conditional on the
// version read; a lost race rereads and tries again).
func (a *Admin) AddWebhook(ctx context.Context, in WebhookInput) (WebhookView, error) {
	if err := validateWebhookSet([]WebhookInput{in}); err != nil {
		var v *ValidationError
		if errors.As(err, &v) {
			for i := range v.Fields { // one item, not a list: drop the index
				v.Fields[i].Loc = slices.Delete(slices.Clone(v.Fields[i].Loc), 1, 2)
			}
		}
		return WebhookView{}, err
	}
	connKey := *in.ConnectionConfigKey
	if err := a.connectionExists(ctx, connKey); err != nil {
		return WebhookView{}, err
	}
	key, name := webhookKey(in), strings.TrimSpace(*in.Name)
	for range conflictRetries {
		set, err := a.Store.LoadWebhookSet(ctx)
		if err != nil {
			return WebhookView{}, err
		}
		for _, w := range set.Webhooks {
			if w.Key == key || w.Name == name {
				return WebhookView{}, &BadRequestError{Msg: fmt.Sprintf("A pre-approval webhook with key '%s' or name '%s' already exists.", key, name)}
			}
		}
		if len(set.Webhooks) >= maxConfigBatch {
			return WebhookView{}, &BadRequestError{Msg: fmt.Sprintf("There are already %d pre-approval webhooks, the most there can be.", maxConfigBatch)}
		}
		secret, sealed, err := a.newSigningSecret(ctx, key)
		if err != nil {
			return WebhookView{}, err
		}
		now := a.Now().UTC()
		sw := StoredWebhook{Webhook: Webhook{Key: key, CreatedAt: now}, SigningSecrets: []SealedSigningSecret{{Sealed: sealed}}}
		sw.Name, sw.ConnectionKey, sw.UpdatedAt = name, connKey, now
		sw.PolicyActions, sw.Mode, _ = in.scope() // validated above
		next := WebhookSet{Version: set.Version, Webhooks: append(slices.Clone(set.Webhooks), sw)}
		err = a.Store.SaveWebhookSet(ctx, next, []string{connKey})
		if err == nil {
			vs, err := a.views(ctx, []StoredWebhook{sw}, map[string]string{key: secret})
			if err != nil {
				return WebhookView{}, err
			}
			return vs[0], nil
		}
		if err := a.afterLostWrite(ctx, err, []string{connKey}); err != nil {
			return WebhookView{}, err
		}
	}
	return WebhookView{}, &ConflictError{Msg: "Pre-approval webhooks changed concurrently; try again."}
}
