package gate

import (
	"context"
	"time"
)

// Webhook is a configured pre-approval webhook: a named link to one connection.
type Webhook struct {
	Key           string
	Name          string
	ConnectionKey string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// WebhookLister lists the configured pre-approval webhooks. Submission takes
// its snapshot from it; replies use it to ignore webhooks deleted since.
type WebhookLister interface {
	ListWebhooks(ctx context.Context) ([]Webhook, error)
}
