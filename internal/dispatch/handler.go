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

// Queue sends a delivery's next attempt, or delays a message's next
// receive (implemented by *sqs.Client).
type Queue interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// maxVisibility is SQS's limit on a visibility timeout (12 h).
const maxVisibility = 12 * time.Hour

// maxCountedAttempts bounds the count a body may carry (any real one is
// below WEBHOOK_MAX_ATTEMPTS), so that one more never overflows.
const maxCountedAttempts = 1 << 20

// maxDelay is SQS's limit on a message's delay (15 min), which is also the
// longest backoff (gate.MaxRetryDelay).
const maxDelay = 15 * time.Minute

// Handler handles one SQS batch of deliveries.
type Handler struct {
	Deliveries Deliverer
	SQS        Queue
	QueueURL   string
	Log        *slog.Logger
	Metrics    *metrics.Emitter
}

// Handle hands the whole batch to the use case at once, so that it reads
// each request and config item once and records each request's deliveries
// in one write. The attempts are counted in the message body: a delivery to
// retry is sent again as a new message, delayed by the backoff, carrying the
// number of calls made so far, and the received one is deleted; so a
// throttled or crashed invocation (which only makes the queue receive the
// message again) uses up none of the validator's attempts. Should that send
// fail, the message is kept with its visibility set to the backoff instead.
// Every other outcome deletes the message. Only a fault of ours (storage,
// keys, a body that does not parse) keeps a message without changing its
// visibility, until the use case gives up on it after a few receives; a
// validator's failure never is an error. Each attempt's delivery metric
// carries the batch's handling time, its calls being made together.
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
			if r.Outcome.Kind == gate.OutcomeRetry && !h.requeue(ctx, attempts[k], r.Outcome.RetryAfter) {
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
	receives, err := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	if err != nil || receives < 0 {
		receives = 0
	}
	return gate.Attempt{Delivery: d, Number: min(max(body.Attempts, 0), maxCountedAttempts) + 1, Receives: receives}, true
}

// requeue sends the delivery's next attempt, delayed by after (at most
// SQS's 15 minutes), and says whether it was sent.
func (h *Handler) requeue(ctx context.Context, a gate.Attempt, after time.Duration) bool {
	d := a.Delivery
	raw, err := json.Marshal(queue.DeliveryBody{DeliveryID: d.ID, PrivacyRequestID: d.PrivacyRequestID, WebhookKey: d.WebhookKey,
		Run: d.Run, Attempts: a.Number})
	if err == nil {
		_, err = h.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(h.QueueURL), MessageBody: aws.String(string(raw)),
			DelaySeconds: int32(math.Ceil(min(max(after, 0), maxDelay).Seconds()))})
	}
	if err != nil {
		h.Log.WarnContext(ctx, "send the next attempt; the message is kept instead", logkey.PrivacyRequestID, d.PrivacyRequestID,
			logkey.WebhookKey, d.WebhookKey, logkey.DeliveryID, d.ID, logkey.Attempt, a.Number, "error", err.Error())
		return false
	}
	return true
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
