// Package reconciler wires the scheduled function: it completes
// every overdue step of the requests in the due index (deliveries never
// made, approvals never decided or never published, the review deadline)
// and backs off the ones that legitimately wait; and, on its daily
// schedule, the admins' digest of the requests due soon. It builds the
// DynamoDB, SQS, CloudWatch (the dispatch queue's backlog) and SNS clients,
// and no other.
package reconciler

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/notices"
	"github.com/pregate/pregate/internal/app/stores"
	"github.com/pregate/pregate/internal/backlog"
	"github.com/pregate/pregate/internal/config"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/queue"
	"github.com/pregate/pregate/internal/schedule"
)

// New is the scheduled function's handler.
func New(_ context.Context, d app.Deps) (*schedule.Handler, error) {
	if err := config.Require("REQUESTS_TABLE", d.Config.RequestsTable, "CONFIG_TABLE", d.Config.ConfigTable,
		"DISPATCH_QUEUE_URL", d.Config.DispatchQueueURL, "APPROVED_QUEUE_URL", d.Config.ApprovedQueueURL,
		"NOTIFICATION_TOPIC_ARN", d.Config.NotificationTopicARN); err != nil {
		return nil, err
	}
	store := stores.Requests(d)
	q := sqs.NewFromConfig(d.AWS)
	replies := &gate.Replies{Store: store, Webhooks: stores.Config(d), Now: d.Now, Log: d.Log}
	digest := &gate.Digest{Requests: store, Notifier: notices.Notifier(d), Links: notices.Links(d), Now: d.Now}
	return &schedule.Handler{Log: d.Log, Digest: digest, Reconciler: &gate.Reconciler{
		Store: store, Replies: replies, Deliveries: queue.NewDispatchQueue(q, d.Config.DispatchQueueURL),
		Publisher: &gate.Publisher{Store: store, Queue: queue.NewApprovedQueue(q, d.Config.ApprovedQueueURL), Now: d.Now, Log: d.Log},
		Deadline:  d.Config.ReviewDeadline,
		// The dispatcher's longest retry schedule, plus an SQS visibility
		// timeout (6 min) for a crashed attempt, and a margin.
		DispatchGrace:    gate.DispatchSpan(d.Config.WebhookMaxAttempts, d.Config.WebhookBackoff, d.Config.WebhookTimeout) + 15*time.Minute,
		Backlog:          backlog.New(cloudwatch.NewFromConfig(d.AWS, backlog.QueryProtocol), d.Config.DispatchQueueURL, d.Now),
		DispatchAttempts: d.Config.WebhookMaxAttempts,
		MinBackoff:       d.Config.ReconcileAfter,
		StopBefore:       15 * time.Second,
		Now:              d.Now, Log: d.Log,
	}}, nil
}
