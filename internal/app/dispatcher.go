package app

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/internal/config"
	"github.com/pregate/pregate/internal/dispatch"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/webhook"
)

// NewDispatcher builds the dispatcher function's SQS handler: it calls the
// validators and retries through the dispatch queue.
// Its config cache lives as long as the warm function instance.
func NewDispatcher(ctx context.Context, d Deps) (*dispatch.Handler, error) {
	if err := config.Require("REQUESTS_TABLE", d.Config.RequestsTable, "CONFIG_TABLE", d.Config.ConfigTable,
		"SECRETS_KEY_ID", d.Config.SecretsKeyID, "REPLY_TOKEN_SECRET_ID", d.Config.ReplyTokenSecretID,
		"DISPATCH_QUEUE_URL", d.Config.DispatchQueueURL, "PUBLIC_BASE_URL", d.Config.PublicBaseURL); err != nil {
		return nil, err
	}
	tokens, err := NewReplyTokens(ctx, d)
	if err != nil {
		return nil, err
	}
	u := &gate.Dispatcher{
		Store:       newRequestStore(d),
		Targets:     &gate.TargetCache{Admin: NewConfigAdmin(d), TTL: d.Config.DispatchConfigTTL, Now: d.Now},
		Tokens:      tokens,
		Caller:      webhook.NewClient(webhook.Options{Timeout: d.Config.WebhookTimeout, AllowInsecure: d.Config.AllowInsecureWebhookURLs, Resolver: d.Resolver}),
		Sign:        webhook.Sign,
		BaseURL:     d.Config.PublicBaseURL,
		MaxAttempts: d.Config.WebhookMaxAttempts,
		Backoff:     d.Config.WebhookBackoff,
		Now:         d.Now,
		Log:         d.Log,
	}
	return &dispatch.Handler{Deliveries: u, SQS: sqs.NewFromConfig(d.AWS), QueueURL: d.Config.DispatchQueueURL, Log: d.Log, Metrics: d.Metrics}, nil
}
