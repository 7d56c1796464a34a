package stream_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/queue"
	"github.com/pregate/pregate/internal/stream"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestApprovedQueueGetsOneMessagePerApproval drives real requests through the
// table, reads the table's stream, feeds every record to the handler twice
// (as an at-least-once source may), and expects exactly one message for each
// approval: one by an admin, one automatic; none for a denial or a pending request.
func TestApprovedQueueGetsOneMessagePerApproval(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	store := dynamo.NewRequestStore(dynamodb.NewFromConfig(cfg), s.Resources["RequestsTable"].Ref)
	manual := &gate.Requests{Store: store, RequireManualApproval: true, Now: time.Now, NewID: gate.NewRequestID, Log: log}
	auto := &gate.Requests{Store: store, RequireManualApproval: false, Now: time.Now, NewID: gate.NewRequestID, Log: log}

	item := gate.SubmitItem{Identity: gate.Identity{Email: "a@example.com"}, PolicyKey: "default_erasure_policy"}
	res, err := manual.Submit(ctx, []gate.SubmitItem{item, item, item})
	if err != nil {
		t.Fatal(err)
	}
	approved, denied := res.Succeeded[0].ID, res.Succeeded[1].ID
	autoRes, err := auto.Submit(ctx, []gate.SubmitItem{item})
	if err != nil {
		t.Fatal(err)
	}
	autoID := autoRes.Succeeded[0].ID
	if _, err := manual.Approve(ctx, gate.Decision{IDs: []string{approved}, Actor: "admin-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := manual.Deny(ctx, gate.Decision{IDs: []string{denied}, Actor: "admin-1", Reason: "no"}); err != nil {
		t.Fatal(err)
	}

	records := awstest.ReadStream(t, cfg, s, 6) // 4 inserts, 2 modifies
	h := &stream.Approved{Queue: queue.NewApprovedQueue(sqs.NewFromConfig(cfg), s.Resources["ApprovedQueue"].Ref), Store: store, Log: log}
	for range 2 {
		for _, r := range records {
			if err := h.Handle(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}

	msgs := awstest.Drain(t, cfg, s.Resources["ApprovedQueue"].Ref)
	if len(msgs) != 2 {
		t.Fatalf("got %d messages, want 2: %v", len(msgs), msgs)
	}
	byID := map[string]queue.ApprovedBody{}
	for _, m := range msgs {
		var b queue.ApprovedBody
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &b); err != nil {
			t.Fatal(err)
		}
		if m.Attributes["MessageDeduplicationId"] != b.PrivacyRequestID || m.Attributes["MessageGroupId"] != b.PrivacyRequestID {
			t.Errorf("message attributes %v for %s", m.Attributes, b.PrivacyRequestID)
		}
		if _, err := time.Parse(gate.TimeLayout, b.ApprovedAt); err != nil || b.PolicyAction != "erasure" {
			t.Errorf("body %+v", b)
		}
		byID[b.PrivacyRequestID] = b
	}
	if b, ok := byID[approved]; !ok || aws.ToString(b.ApprovedBy) != "admin-1" {
		t.Errorf("admin approval message %+v (found %v)", b, ok)
	}
	if b, ok := byID[autoID]; !ok || b.ApprovedBy != nil {
		t.Errorf("auto approval message %+v (found %v)", b, ok)
	}
}

// TestApprovedIgnoresOtherChanges checks the trigger condition on hand-made records.
func TestApprovedIgnoresOtherChanges(t *testing.T) {
	img := func(status string) map[string]events.DynamoDBAttributeValue {
		return map[string]events.DynamoDBAttributeValue{dynamo.AttrID: events.NewStringAttribute("pri_1"), dynamo.AttrStatus: events.NewStringAttribute(status),
			dynamo.AttrApprovedAt: events.NewNumberAttribute("1764158400000000")}
	}
	cases := map[string]events.DynamoDBEventRecord{
		"still pending":     {Change: events.DynamoDBStreamRecord{OldImage: img("pending"), NewImage: img("pending")}},
		"denied":            {Change: events.DynamoDBStreamRecord{OldImage: img("pending"), NewImage: img("denied")}},
		"already approved":  {Change: events.DynamoDBStreamRecord{OldImage: img("approved"), NewImage: img("approved")}},
		"removed":           {Change: events.DynamoDBStreamRecord{OldImage: img("approved")}},
		"approved to other": {Change: events.DynamoDBStreamRecord{OldImage: img("approved"), NewImage: img("in_processing")}},
	}
	for name, rec := range cases {
		t.Run(name, func(t *testing.T) {
			h := &stream.Approved{Queue: failingPublisher{t}, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
			if err := h.Handle(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
		})
	}
}

type failingPublisher struct{ t *testing.T }

func (f failingPublisher) PublishApproved(context.Context, gate.ApprovedMessage) error {
	f.t.Error("published for a record that is not an approval")
	return nil
}
