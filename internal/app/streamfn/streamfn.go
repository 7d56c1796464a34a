// Package streamfn wires the requests-stream function: deliveries for
// requests entering awaiting_pre_approval, and one approved-queue message
// per approval (checked against, then recorded in, the request's published
// mark). It builds the SQS and DynamoDB clients, and no other.
package streamfn

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/stores"
	"github.com/pregate/pregate/internal/config"
	"github.com/pregate/pregate/internal/queue"
	"github.com/pregate/pregate/internal/stream"
)

// New is the requests-stream function's handler.
func New(_ context.Context, d app.Deps) (*stream.Handler, error) {
	if err := config.Require("DISPATCH_QUEUE_URL", d.Config.DispatchQueueURL, "APPROVED_QUEUE_URL", d.Config.ApprovedQueueURL,
		"REQUESTS_TABLE", d.Config.RequestsTable); err != nil {
		return nil, err
	}
	q := sqs.NewFromConfig(d.AWS)
	return &stream.Handler{Log: d.Log, Steps: []stream.RecordHandler{
		&stream.Deliveries{Queue: queue.NewDispatchQueue(q, d.Config.DispatchQueueURL), Log: d.Log},
		&stream.Approved{Queue: queue.NewApprovedQueue(q, d.Config.ApprovedQueueURL), Store: stores.Requests(d), Now: d.Now, Log: d.Log},
		&stream.Decisions{Metrics: d.Metrics},
	}}, nil
}
