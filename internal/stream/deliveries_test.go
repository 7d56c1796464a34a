package stream_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
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

type hooks []gate.Webhook

func (h hooks) ListWebhooks(context.Context) (gate.WebhookConfig, error) {
	return gate.WebhookConfig{Version: 1, Webhooks: h}, nil
}

func (h hooks) WebhooksSince(context.Context, int64) ([]gate.Webhook, error) { return h, nil }

// A request entering awaiting_pre_approval with 12 webhooks yields 12
// deliveries (two SendMessageBatch calls); a later change while awaiting
// (a reply) yields none.
func TestDeliveriesOnePerWebhookOfTheSnapshot(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	store := dynamo.NewRequestStore(dynamodb.NewFromConfig(cfg), s.Resources["RequestsTable"].Ref)
	var hs hooks
	for i := range 12 {
		hs = append(hs, gate.Webhook{Key: fmt.Sprintf("h%02d", i), Name: fmt.Sprintf("Hook %d", i)})
	}
	reqs := &gate.Requests{Store: store, Webhooks: hs, RequireManualApproval: true, Now: time.Now, NewID: gate.NewRequestID, Log: log}
	res, err := reqs.Submit(ctx, []gate.SubmitItem{{Identity: gate.Identity{Email: "a@example.com"}, PolicyKey: "default_access_policy"}})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Succeeded[0].ID
	replies := &gate.Replies{Store: store, Webhooks: hs, Tokens: tokensFor(id), Now: time.Now, Log: log}
	if err := replies.Reply(ctx, "h00", id, gate.WebhookEligible); err != nil {
		t.Fatal(err)
	}
	records := awstest.ReadStream(t, cfg, s, 2) // INSERT awaiting, MODIFY awaiting -> awaiting
	q := sqs.NewFromConfig(cfg)
	h := &stream.Handler{Log: log, Steps: []stream.RecordHandler{&stream.Deliveries{Queue: queue.NewDispatchQueue(q, s.Resources["DispatchQueue"].Ref), Log: log}}}
	resp, err := h.Handle(ctx, events.DynamoDBEvent{Records: records})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("handle: %v %+v", err, resp)
	}
	msgs := awstest.Drain(t, cfg, s.Resources["DispatchQueue"].Ref)
	var keys []string
	for _, m := range msgs {
		var b queue.DeliveryBody
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &b); err != nil {
			t.Fatal(err)
		}
		if b.PrivacyRequestID != id || b.DeliveryID != gate.DeliveryID(id, b.WebhookKey) {
			t.Errorf("body %+v", b)
		}
		keys = append(keys, b.WebhookKey)
	}
	sort.Strings(keys)
	if len(keys) != 12 || keys[0] != "h00" || keys[11] != "h11" {
		t.Fatalf("deliveries for %v, want h00..h11 once each", keys)
	}
}

type failingQueue struct{}

func (failingQueue) EnqueueDeliveries(context.Context, []gate.Delivery) error {
	return errors.New("sqs down")
}

// A failing step reports the record and stops there: Lambda retries from it.
func TestHandlerReportsFirstFailureAndStops(t *testing.T) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	awaiting := func(id, seq string) events.DynamoDBEventRecord {
		return events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: seq, NewImage: map[string]events.DynamoDBAttributeValue{
			dynamo.AttrID: events.NewStringAttribute(id), dynamo.AttrStatus: events.NewStringAttribute("awaiting_pre_approval"),
			dynamo.AttrWebhooks: events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{dynamo.AttrHookKey: events.NewStringAttribute("crm")})}),
		}}}
	}
	pending := events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: "1", NewImage: map[string]events.DynamoDBAttributeValue{dynamo.AttrStatus: events.NewStringAttribute("pending")}}}
	h := &stream.Handler{Log: log, Steps: []stream.RecordHandler{&stream.Deliveries{Queue: failingQueue{}, Log: log}}}
	resp, _ := h.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{pending, awaiting("pri_a", "2"), awaiting("pri_b", "3")}})
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "2" {
		t.Fatalf("failures %+v, want exactly sequence 2", resp.BatchItemFailures)
	}
}

// tokensFor accepts a webhook key as the token for request id.
type tokensFor string

func (id tokensFor) VerifyReply(token string) (gate.ReplyClaims, error) {
	return gate.ReplyClaims{WebhookKey: token, PrivacyRequestID: string(id)}, nil
}
