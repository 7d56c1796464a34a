package dispatch

import (
	"context"
	"errors"
	"fmt"
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
	mu      sync.Mutex
	got     map[string]int32 // receipt handle -> visibility
	sent    []sqs.SendMessageInput
	sendErr error
}

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendErr != nil {
		return nil, f.sendErr
	}
	f.sent = append(f.sent, *in)
	return &sqs.SendMessageOutput{}, nil
}

func (f *fakeSQS) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got[aws.ToString(in.ReceiptHandle)] = in.VisibilityTimeout
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

// msg is a message of delivery pri_1:key after calls calls, received receives times.
func msg(id, key string, calls int, receives string) events.SQSMessage {
	return events.SQSMessage{MessageId: id, ReceiptHandle: "rh-" + id,
		Body:       fmt.Sprintf(`{"delivery_id":"pri_1:%s","privacy_request_id":"pri_1","webhook_key":"%s","attempts":%d}`, key, key, calls),
		Attributes: map[string]string{"ApproximateReceiveCount": receives}}
}

func TestHandleBatch(t *testing.T) {
	deliv := &fakeDeliverer{got: map[string]int{}}
	q := &fakeSQS{got: map[string]int32{}}
	h := &Handler{Deliveries: deliv, SQS: q, QueueURL: "u", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ev := events.SQSEvent{Records: []events.SQSMessage{
		msg("1", "ok", 0, "1"), msg("2", "retry", 1, "7"), msg("3", "boom", 0, "1"), msg("4", "failed", 2, "3"), msg("5", "skipped", 0, "1"),
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
	if len(failed) != 2 || failed[0] != "3" || failed[1] != "6" {
		t.Fatalf("batch item failures %v, want [3 6]", failed)
	}
	// The retry is a new message carrying the calls made, delayed by the
	// backoff; the received one is deleted. The receive count (7: throttles,
	// crashes) is no attempt number.
	if len(q.got) != 0 || len(q.sent) != 1 || q.sent[0].DelaySeconds != 2 ||
		aws.ToString(q.sent[0].MessageBody) != `{"delivery_id":"pri_1:retry","privacy_request_id":"pri_1","webhook_key":"retry","attempts":2}` {
		t.Fatalf("visibility changes %v, sent %+v", q.got, q.sent)
	}
	if deliv.got["retry"] != 2 || deliv.got["failed"] != 3 || deliv.got["ok"] != 1 {
		t.Fatalf("attempts %v", deliv.got)
	}

	// When the send fails, the message is kept with the backoff as its visibility.
	q.sendErr = errors.New("sqs down")
	resp, _ = h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{msg("7", "retry", 1, "1")}})
	if len(resp.BatchItemFailures) != 1 || q.got["rh-7"] != 2 {
		t.Fatalf("send failed: failures %+v, visibility %v", resp.BatchItemFailures, q.got)
	}
	if deliv.batches != 2 {
		t.Fatalf("%d calls of the use case, want each batch whole in one", deliv.batches)
	}
}
