package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

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

	q := sqs.NewFromConfig(sys.AWS)
	url := aws.String(sys.Stack.Resources["ApprovedQueue"].Ref)
	deadline := time.Now().Add(15 * time.Second)
	var got []queue.ApprovedBody
	for time.Now().Before(deadline) {
		msgs, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs.Messages {
			var b queue.ApprovedBody
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &b); err != nil {
				t.Fatal(err)
			}
			if b.PrivacyRequestID == id {
				got = append(got, b)
			}
			// Leave other tests' messages alone: they become visible again.
		}
		if len(got) > 0 {
			break
		}
	}
	if len(got) != 1 || got[0].PolicyAction != "consent" || got[0].ApprovedBy != nil {
		t.Fatalf("approved-queue messages for %s: %+v", id, got)
	}
}
