// Package queue puts the gate's messages on SQS.
package queue

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/internal/gate"
)

// ApprovedQueue is the FIFO approved queue. The request id is both the
// deduplication id and the group id, so a repeated send within SQS's
// five-minute window is dropped and one request's messages stay in order.
type ApprovedQueue struct {
	sqs *sqs.Client
	url string
}

var _ gate.ApprovedPublisher = (*ApprovedQueue)(nil)

// NewApprovedQueue returns a publisher on the queue at url.
func NewApprovedQueue(client *sqs.Client, url string) *ApprovedQueue {
	return &ApprovedQueue{sqs: client, url: url}
}

// ApprovedBody is the message body downstream execution reads.
type ApprovedBody struct {
	PrivacyRequestID string  `json:"privacy_request_id"`
	PolicyAction     string  `json:"policy_action"`
	ApprovedAt       string  `json:"approved_at"`
	ApprovedBy       *string `json:"approved_by"`
}

// PublishApproved sends one message for m.
func (q *ApprovedQueue) PublishApproved(ctx context.Context, m gate.ApprovedMessage) error {
	b := ApprovedBody{PrivacyRequestID: m.PrivacyRequestID, PolicyAction: m.PolicyAction, ApprovedAt: gate.FormatTime(m.ApprovedAt)}
	if m.ApprovedBy != "" {
		b.ApprovedBy = &m.ApprovedBy
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("encode approved message: %w", err)
	}
	_, err = q.sqs.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:               &q.url,
		MessageBody:            aws.String(string(raw)),
		MessageDeduplicationId: aws.String(m.PrivacyRequestID),
		MessageGroupId:         aws.String(m.PrivacyRequestID),
	})
	if err != nil {
		return fmt.Errorf("send approved message for %s: %w", m.PrivacyRequestID, err)
	}
	return nil
}
