// Package dispatcher wires the dispatcher function: it calls the validators
// and retries through the dispatch queue. It builds the DynamoDB, KMS,
// Secrets Manager and SQS clients, and no other.
package dispatcher

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/configadmin"
	"github.com/pregate/pregate/internal/app/notices"
	"github.com/pregate/pregate/internal/app/replytokens"
	"github.com/pregate/pregate/internal/app/stores"
	"github.com/pregate/pregate/internal/config"
	"github.com/pregate/pregate/internal/dispatch"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/webhook"
)

// Handler is the dispatcher's SQS handler; a batch with messages first
// waits for the reply-token key set, read in the background from the cold
// start on.
type Handler struct {
	*dispatch.Handler
	tokens *replytokens.Tokens
}

// Handle handles one batch of the dispatch queue.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	if len(ev.Records) > 0 {
		if err := h.tokens.Ready(ctx); err != nil {
			return events.SQSEventResponse{}, err
		}
	}
	return h.Handler.Handle(ctx, ev)
}

// New builds the dispatcher function's SQS handler. Its config cache lives
// as long as the warm function instance.
func New(_ context.Context, d app.Deps) (*Handler, error) {
	if err := config.Require("REQUESTS_TABLE", d.Config.RequestsTable, "CONFIG_TABLE", d.Config.ConfigTable, "DELIVERY_LOG_TABLE", d.Config.DeliveryLogTable,
		"SECRETS_KEY_ID", d.Config.SecretsKeyID, "REPLY_TOKEN_SECRET_ID", d.Config.ReplyTokenSecretID,
		"DISPATCH_QUEUE_URL", d.Config.DispatchQueueURL, "PUBLIC_BASE_URL", d.Config.PublicBaseURL,
		"NOTIFICATION_TOPIC_ARN", d.Config.NotificationTopicARN); err != nil {
		return nil, err
	}
	tokens, log := replytokens.Start(d), stores.DeliveryLog(d)
	u := &gate.Dispatcher{
		Store:       stores.Requests(d),
		Targets:     &gate.TargetCache{Admin: configadmin.New(d), TTL: d.Config.DispatchConfigTTL, Now: d.Now},
		Tokens:      tokens,
		Caller:      webhook.NewClient(webhook.Options{Timeout: d.Config.WebhookTimeout, AllowInsecure: d.Config.AllowInsecureWebhookURLs, Resolver: d.Resolver}),
		Sign:        webhook.Sign,
		BaseURL:     d.Config.PublicBaseURL,
		MaxAttempts: d.Config.WebhookMaxAttempts,
		Backoff:     d.Config.WebhookBackoff,
		Now:         d.Now,
		Log:         d.Log,
		Attempts:    log,
		Tests:       log,
		Notifier:    notices.Notifier(d),
		Links:       notices.Links(d),
	}
	return &Handler{Handler: &dispatch.Handler{Deliveries: u, SQS: sqs.NewFromConfig(d.AWS), QueueURL: d.Config.DispatchQueueURL, Log: d.Log, Metrics: d.Metrics}, tokens: tokens}, nil
}
