package local_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/queue"
)

// A duplicate of a delivery that already succeeded (a redelivered SQS message
// or a replayed stream record, which both end as another dispatch message)
// never calls the validator again.
func TestDuplicateDeliveryAfterSuccessCallsOnce(t *testing.T) {
	c := admin(t)
	sys := system(t)
	v := newValidator(t, 202) // accepts, never replies: the request stays awaiting
	hook := unique("dup")
	c.validatorWebhook(v, hook)
	id, _ := c.submit()
	var got dispatchedRequest
	waitUntil(t, 20*time.Second, func() bool {
		c.must(200, "GET", "/privacy-request/"+id, nil, &got)
		return len(got.Webhooks) == 1 && got.Webhooks[0].State == "called"
	})

	q := sqs.NewFromConfig(sys.AWS)
	url := aws.String(sys.Stack.Resources["DispatchQueue"].Ref)
	body, _ := json.Marshal(queue.DeliveryBody{DeliveryID: gate.DeliveryID(id, hook), PrivacyRequestID: id, WebhookKey: hook})
	for range 2 {
		if _, err := q.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String(string(body))}); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the dispatcher has taken and finished both duplicates.
	waitUntil(t, 20*time.Second, func() bool {
		out, err := q.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: url, AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
	})
	if n := len(v.received()); n != 1 {
		t.Fatalf("validator called %d times, want 1", n)
	}
	c.must(200, "GET", "/privacy-request/"+id, nil, &got)
	if got.Status != "awaiting_pre_approval" || got.Webhooks[0].State != "called" {
		t.Fatalf("request moved: %+v", got)
	}
}
