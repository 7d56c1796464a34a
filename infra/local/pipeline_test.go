package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/infra/openapitest"
	"github.com/pregate/pregate/internal/queue"
)

// A consent request is approved at submission; the local stream poller runs
// the real stream handler, which puts exactly one message on the approved queue.
func TestApprovalReachesTheApprovedQueueThroughTheStream(t *testing.T) {
	sys := system(t)
	body := `[{"identity":{"email":"consent@example.com"},"policy_key":"default_consent_policy"}]`
	resp, err := openapitest.Client(t).Post(sys.URL+"/api/v1/privacy-request", "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Succeeded []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"succeeded"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(out.Succeeded) != 1 || out.Succeeded[0].Status != "approved" {
		t.Fatalf("submit: %+v", out)
	}
	id := out.Succeeded[0].ID

	got := approvedMessagesFor(t, sys, id, 15*time.Second, 0)
	if len(got) != 1 || got[0].PolicyAction != "consent" || got[0].ApprovedBy != nil {
		t.Fatalf("approved-queue messages for %s: %+v", id, got)
	}
}

// approvedMessagesFor reads the shared system's approved queue for up to
// within, until a message for request id came and then settle more (to see a
// duplicate), and returns that request's messages, deleted from the queue.
func approvedMessagesFor(t *testing.T, sys *local.System, id string, within, settle time.Duration) []queue.ApprovedBody {
	t.Helper()
	q := sqs.NewFromConfig(sys.AWS)
	url := aws.String(sys.Stack.Resources["ApprovedQueue"].Ref)
	var msgs []queue.ApprovedBody
	var firstAt time.Time
	for deadline := time.Now().Add(within); time.Now().Before(deadline) && (firstAt.IsZero() || time.Since(firstAt) < settle); {
		out, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var b queue.ApprovedBody
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &b); err != nil {
				t.Fatal(err)
			}
			if b.PrivacyRequestID != id {
				continue // another test's: it becomes visible again
			}
			msgs = append(msgs, b)
			if firstAt.IsZero() {
				firstAt = time.Now()
			}
			if _, err := q.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return msgs
}
