package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pregate/pregate/internal/gate"
)

// DispatchQueue is the standard queue the dispatcher consumes.
type DispatchQueue struct {
	sqs *sqs.Client
	url string
}

var _ gate.DeliveryQueue = (*DispatchQueue)(nil)

// NewDispatchQueue returns the queue at url.
func NewDispatchQueue(client *sqs.Client, url string) *DispatchQueue {
	return &DispatchQueue{sqs: client, url: url}
}

// DeliveryBody is a dispatch message's body.
type DeliveryBody struct {
	DeliveryID       string `json:"delivery_id"`
	PrivacyRequestID string `json:"privacy_request_id"`
	WebhookKey       string `json:"webhook_key"`
	// Run is the pre-approval run the delivery belongs to (absent: the first).
	Run int `json:"run,omitempty"`
	// Attempts is how many calls of this delivery were made before this
	// message (absent: none). The dispatcher counts them itself, so that
	// receives without a call (throttles, crashes) use up no attempt.
	Attempts int `json:"attempts,omitempty"`
}

// maxBatch is SendMessageBatch's limit.
const maxBatch = 10

// EnqueueDeliveries sends ds in batches of ten. Any entry SQS refuses makes
// the whole call fail, so the stream record is retried: re-sending the
// entries that did go through is harmless, the dispatcher calls a delivery
// that already succeeded no more.
func (q *DispatchQueue) EnqueueDeliveries(ctx context.Context, ds []gate.Delivery) error {
	for start := 0; start < len(ds); start += maxBatch {
		chunk := ds[start:min(start+maxBatch, len(ds))]
		entries := make([]types.SendMessageBatchRequestEntry, len(chunk))
		for i, d := range chunk {
			raw, err := json.Marshal(DeliveryBody{DeliveryID: d.ID, PrivacyRequestID: d.PrivacyRequestID, WebhookKey: d.WebhookKey, Run: d.Run})
			if err != nil {
				return fmt.Errorf("encode delivery %s: %w", d.ID, err)
			}
			entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(raw))}
		}
		out, err := q.sqs.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &q.url, Entries: entries})
		if err != nil {
			return fmt.Errorf("enqueue deliveries: %w", err)
		}
		if len(out.Failed) > 0 {
			f := out.Failed[0]
			return fmt.Errorf("enqueue deliveries: %d of %d refused (first: %s %s)", len(out.Failed), len(chunk), aws.ToString(f.Code), aws.ToString(f.Message))
		}
	}
	return nil
}
