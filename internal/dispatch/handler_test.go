package dispatch

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/internal/gate"
)

// fakeDeliverer answers by webhook key and records the batches it got.
type fakeDeliverer struct {
	got     map[string]int // webhook key -> attempt
	batches int
}

func (f *fakeDeliverer) DeliverBatch(_ context.Context, as []gate.Attempt) []gate.Result {
	f.batches++
	time.Sleep(10 * time.Millisecond) // a batch takes time: its metrics carry it
	out := make([]gate.Result, len(as))
	for i, a := range as {
		f.got[a.Delivery.WebhookKey] = a.Number
		switch a.Delivery.WebhookKey {
		case "retry":
			out[i].Outcome = gate.Outcome{Kind: gate.OutcomeRetry, RetryAfter: 1500 * time.Millisecond}
		case "boom":
			out[i].Err = errors.New("storage down")
		case "failed":
			out[i].Outcome = gate.Outcome{Kind: gate.OutcomeFailed}
		case "skipped":
			out[i].Outcome = gate.Outcome{Kind: gate.OutcomeSkipped}
		default:
			out[i].Outcome = gate.Outcome{Kind: gate.OutcomeDelivered}
		}
	}
	return out
}

type fakeSQS struct {
	mu  sync.Mutex
	got map[string]int32 // receipt handle -> visibility
}

func (f *fakeSQS) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got[aws.ToString(in.ReceiptHandle)] = in.VisibilityTimeout
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func msg(id, key, receives string) events.SQSMessage {
	return events.SQSMessage{MessageId: id, ReceiptHandle: "rh-" + id,
		Body:       `{"delivery_id":"pri_1:` + key + `","privacy_request_id":"pri_1","webhook_key":"` + key + `"}`,
		Attributes: map[string]string{"ApproximateReceiveCount": receives}}
}

func TestHandleBatch(t *testing.T) {
	deliv := &fakeDeliverer{got: map[string]int{}}
	q := &fakeSQS{got: map[string]int32{}}
	h := &Handler{Deliveries: deliv, SQS: q, QueueURL: "u", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ev := events.SQSEvent{Records: []events.SQSMessage{
		msg("1", "ok", "1"), msg("2", "retry", "2"), msg("3", "boom", "1"), msg("4", "failed", "3"), msg("5", "skipped", "1"),
		{MessageId: "6", Body: "not json"},
	}}
	resp, err := h.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if len(failed) != 3 || failed[0] != "2" || failed[1] != "3" || failed[2] != "6" {
		t.Fatalf("batch item failures %v, want [2 3 6]", failed)
	}
	if len(q.got) != 1 || q.got["rh-2"] != 2 {
		t.Fatalf("visibility changes %v, want rh-2 -> 2 s", q.got)
	}
	if deliv.got["retry"] != 2 || deliv.got["failed"] != 3 {
		t.Fatalf("attempts %v", deliv.got)
	}
	if deliv.batches != 1 {
		t.Fatalf("%d calls of the use case, want the whole batch in one", deliv.batches)
	}
}
