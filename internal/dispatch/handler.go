// Package dispatch is the dispatcher function's SQS handler: one message per
// delivery, retries through the message's visibility.
package dispatch

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/logkey"
	"github.com/pregate/pregate/internal/metrics"
	"github.com/pregate/pregate/internal/queue"
)

// Deliverer is the use case (implemented by *gate.Dispatcher).
type Deliverer interface {
	DeliverBatch(ctx context.Context, attempts []gate.Attempt) []gate.Result
}

// VisibilityChanger delays a message's next receive (implemented by *sqs.Client).
type VisibilityChanger interface {
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// maxVisibility is SQS's limit on a visibility timeout (12 h).
const maxVisibility = 12 * time.Hour

// Handler handles one SQS batch of deliveries.
type Handler struct {
	Deliveries Deliverer
	SQS        VisibilityChanger
	QueueURL   string
	Log        *slog.Logger
	Metrics    *metrics.Emitter
}

// Handle hands the whole batch to the use case at once, so that it reads
// each request and config item once and records each request's deliveries
// in one write. A message to retry gets its visibility set to the backoff
// delay and is reported as a batch item failure; every other outcome deletes
// it. Only a fault of ours (storage, keys, a body that does not parse) keeps
// a message without changing its visibility; a validator's failure never is
// an error. Each attempt's delivery metric carries the batch's handling
// time, its calls being made together.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	failed := make([]bool, len(ev.Records))
	var attempts []gate.Attempt
	var from []int // attempts[k] came from ev.Records[from[k]]
	for i, m := range ev.Records {
		a, ok := parse(m)
		if !ok {
			h.Log.ErrorContext(ctx, "dispatch message does not parse; left for the DLQ", "message_id", m.MessageId)
			failed[i] = true
			continue
		}
		attempts, from = append(attempts, a), append(from, i)
	}
	if len(attempts) > 0 {
		start := time.Now()
		results := h.Deliveries.DeliverBatch(ctx, attempts)
		took := time.Since(start)
		for k, r := range results {
			d, m := attempts[k].Delivery, ev.Records[from[k]]
			if r.Err != nil {
				h.Metrics.Delivery(d.PrivacyRequestID, d.WebhookKey, metrics.DeliveryError, took)
				h.Log.ErrorContext(ctx, "delivery attempt failed on our side; message kept", logkey.PrivacyRequestID, d.PrivacyRequestID,
					logkey.WebhookKey, d.WebhookKey, logkey.DeliveryID, d.ID, logkey.Attempt, attempts[k].Number, "error", r.Err.Error())
				failed[from[k]] = true
				continue
			}
			h.Metrics.Delivery(d.PrivacyRequestID, d.WebhookKey, string(r.Outcome.Kind), took)
			if r.Outcome.Kind == gate.OutcomeRetry {
				h.delay(ctx, m, d, r.Outcome.RetryAfter)
				failed[from[k]] = true
			}
		}
	}
	var resp events.SQSEventResponse
	for i, f := range failed {
		if f {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: ev.Records[i].MessageId})
		}
	}
	return resp, nil
}

func parse(m events.SQSMessage) (gate.Attempt, bool) {
	var body queue.DeliveryBody
	if err := json.Unmarshal([]byte(m.Body), &body); err != nil || body.PrivacyRequestID == "" || body.WebhookKey == "" {
		return gate.Attempt{}, false
	}
	d := gate.Delivery{ID: body.DeliveryID, PrivacyRequestID: body.PrivacyRequestID, WebhookKey: body.WebhookKey, Run: body.Run}
	if d.ID == "" {
		d.ID = gate.RunDeliveryID(d.PrivacyRequestID, d.WebhookKey, d.Run)
	}
	attempt, err := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	if err != nil || attempt < 1 {
		attempt = 1
	}
	return gate.Attempt{Delivery: d, Number: attempt}, true
}

// delay sets the message's visibility to the backoff delay.
func (h *Handler) delay(ctx context.Context, m events.SQSMessage, d gate.Delivery, after time.Duration) {
	secs := int32(math.Ceil(min(after, maxVisibility).Seconds()))
	if _, err := h.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(h.QueueURL), ReceiptHandle: aws.String(m.ReceiptHandle), VisibilityTimeout: secs,
	}); err != nil {
		// The message comes back after the queue's own visibility timeout instead.
		h.Log.WarnContext(ctx, "change message visibility", logkey.PrivacyRequestID, d.PrivacyRequestID, logkey.WebhookKey, d.WebhookKey,
			logkey.DeliveryID, d.ID, "error", err.Error())
	}
}
