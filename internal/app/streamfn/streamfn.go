// Package streamfn wires the requests-stream function: deliveries for
// requests entering awaiting_pre_approval; one approved-queue message per
// approval (checked against, then recorded in, the request's published
// mark); a finished request's expiry given to its archived runs; and the
// admins' notification of a request that needs review. It builds the SQS,
// DynamoDB and SNS clients, and no other.
package streamfn

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/notices"
	"github.com/pregate/pregate/internal/app/stores"
	"github.com/pregate/pregate/internal/config"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/queue"
	"github.com/pregate/pregate/internal/stream"
)

var _ stream.ArchiveExpirer = (*dynamo.RequestStore)(nil)

// New is the requests-stream function's handler.
func New(_ context.Context, d app.Deps) (*stream.Handler, error) {
	if err := config.Require("DISPATCH_QUEUE_URL", d.Config.DispatchQueueURL, "APPROVED_QUEUE_URL", d.Config.ApprovedQueueURL,
		"REQUESTS_TABLE", d.Config.RequestsTable, "NOTIFICATION_TOPIC_ARN", d.Config.NotificationTopicARN); err != nil {
		return nil, err
	}
	q := sqs.NewFromConfig(d.AWS)
	requests := stores.Requests(d)
	return &stream.Handler{Log: d.Log, Steps: []stream.RecordHandler{
		&stream.Deliveries{Queue: queue.NewDispatchQueue(q, d.Config.DispatchQueueURL), Log: d.Log},
		&stream.Approved{Queue: queue.NewApprovedQueue(q, d.Config.ApprovedQueueURL), Store: requests, Now: d.Now, Log: d.Log},
		// Before Decisions: a record failed here is retried, and a metric
		// already counted would be counted again.
		&stream.Archives{Store: requests, Log: d.Log},
		&stream.Decisions{Metrics: d.Metrics},
		// Last: a retried record then repeats no notification already sent.
		&stream.Notifications{Notifier: notices.Notifier(d), Links: notices.Links(d), Now: d.Now},
	}}, nil
}
