package dispatch

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/internal/gate"
)

// fakeDeliverer answers by webhook key and tracks the calls in flight.
type fakeDeliverer struct {
	mu       sync.Mutex
	got      map[string]int // webhook key -> attempt
	inFlight atomic.Int32
	maxSeen  atomic.Int32
}

func (f *fakeDeliverer) Deliver(_ context.Context, d gate.Delivery, attempt int) (gate.Outcome, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(10 * time.Millisecond) // lets concurrent calls overlap
	f.mu.Lock()
	f.got[d.WebhookKey] = attempt
	f.mu.Unlock()
	switch d.WebhookKey {
	case "retry":
		return gate.Outcome{Kind: gate.OutcomeRetry, RetryAfter: 1500 * time.Millisecond}, nil
	case "boom":
		return gate.Outcome{}, errors.New("storage down")
	case "failed":
		return gate.Outcome{Kind: gate.OutcomeFailed}, nil
	case "skipped":
		return gate.Outcome{Kind: gate.OutcomeSkipped}, nil
	}
	return gate.Outcome{Kind: gate.OutcomeDelivered}, nil
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
	h := &Handler{Deliveries: deliv, SQS: q, QueueURL: "u", Concurrency: 2, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
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
	if m := deliv.maxSeen.Load(); m > 2 || m < 2 {
		t.Fatalf("at most %d at once, want 2", m)
	}
}
