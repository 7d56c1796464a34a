// Package dispatch is the dispatcher function's SQS handler: one message per
// delivery, retries through the message's visibility (SPEC §6).
package dispatch

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"strconv"
	"sync"
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
	Deliver(ctx context.Context, d gate.Delivery, attempt int) (gate.Outcome, error)
}

// VisibilityChanger delays a message's next receive (implemented by *sqs.Client).
type VisibilityChanger interface {
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// DefaultConcurrency bounds the calls made at once within one batch.
const DefaultConcurrency = 10

// maxVisibility is SQS's limit on a visibility timeout (12 h).
const maxVisibility = 12 * time.Hour

// Handler handles one SQS batch of deliveries.
type Handler struct {
	Deliveries  Deliverer
	SQS         VisibilityChanger
	QueueURL    string
	Concurrency int
	Log         *slog.Logger
	Metrics     *metrics.Emitter
}

// Handle delivers every message of the batch, at most Concurrency at once.
// A message to retry gets its visibility set to the backoff delay and is
// reported as a batch item failure; every other outcome deletes it. Only a
// fault of ours (storage, keys, a body that does not parse) keeps a message
// without changing its visibility; a validator's failure never is an error.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	limit := h.Concurrency
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	var (
		mu       sync.Mutex
		resp     events.SQSEventResponse
		wg       sync.WaitGroup
		sem      = make(chan struct{}, limit)
		failures = make([]bool, len(ev.Records))
	)
	for i, msg := range ev.Records {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if !h.one(ctx, msg) {
				mu.Lock()
				failures[i] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for i, failed := range failures {
		if failed {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: ev.Records[i].MessageId})
		}
	}
	return resp, nil
}

// one handles one message and reports whether it is done with (to delete).
func (h *Handler) one(ctx context.Context, msg events.SQSMessage) bool {
	var body queue.DeliveryBody
	if err := json.Unmarshal([]byte(msg.Body), &body); err != nil || body.PrivacyRequestID == "" || body.WebhookKey == "" {
		h.Log.ErrorContext(ctx, "dispatch message does not parse; left for the DLQ", "message_id", msg.MessageId)
		return false
	}
	d := gate.Delivery{ID: body.DeliveryID, PrivacyRequestID: body.PrivacyRequestID, WebhookKey: body.WebhookKey}
	if d.ID == "" {
		d.ID = gate.DeliveryID(d.PrivacyRequestID, d.WebhookKey)
	}
	attempt, err := strconv.Atoi(msg.Attributes["ApproximateReceiveCount"])
	if err != nil || attempt < 1 {
		attempt = 1
	}
	start := time.Now()
	out, err := h.Deliveries.Deliver(ctx, d, attempt)
	if err != nil {
		h.Metrics.Delivery(d.PrivacyRequestID, d.WebhookKey, metrics.DeliveryError, time.Since(start))
		h.Log.ErrorContext(ctx, "delivery attempt failed on our side; message kept", logkey.PrivacyRequestID, d.PrivacyRequestID,
			logkey.WebhookKey, d.WebhookKey, logkey.DeliveryID, d.ID, logkey.Attempt, attempt, "error", err.Error())
		return false
	}
	h.Metrics.Delivery(d.PrivacyRequestID, d.WebhookKey, string(out.Kind), time.Since(start))
	if out.Kind != gate.OutcomeRetry {
		return true
	}
	secs := int32(math.Ceil(min(out.RetryAfter, maxVisibility).Seconds()))
	if _, err := h.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(h.QueueURL), ReceiptHandle: aws.String(msg.ReceiptHandle), VisibilityTimeout: secs,
	}); err != nil {
		// The message comes back after the queue's own visibility timeout instead.
		h.Log.WarnContext(ctx, "change message visibility", logkey.PrivacyRequestID, d.PrivacyRequestID, logkey.WebhookKey, d.WebhookKey,
			logkey.DeliveryID, d.ID, "error", err.Error())
	}
	return false
}
