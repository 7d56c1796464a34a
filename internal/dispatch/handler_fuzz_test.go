package dispatch

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/metrics"
	"github.com/pregate/pregate/internal/queue"
)

// recordingDeliverer remembers its attempts and answers each with a fixed outcome.
type recordingDeliverer struct {
	calls    []gate.Delivery
	attempts []int
	out      gate.Outcome
}

func (r *recordingDeliverer) DeliverBatch(_ context.Context, as []gate.Attempt) []gate.Result {
	out := make([]gate.Result, len(as))
	for i, a := range as {
		r.calls = append(r.calls, a.Delivery)
		r.attempts = append(r.attempts, a.Number)
		out[i].Outcome = r.out
	}
	return out
}

// FuzzDispatchMessage: any SQS message body and receive count is either
// refused before any call (kept for the DLQ) or delivered exactly as the
// body names it, as the attempt after the calls it counts; a retry is a new
// message, counting one call more, whose delay is within SQS's bounds and
// never shorter than the backoff asked for (up to the 15 min cap).
func FuzzDispatchMessage(f *testing.F) {
	for _, s := range []struct {
		body, receives string
		retryMS        uint32
	}{
		{`{"delivery_id":"pri_1:h","privacy_request_id":"pri_1","webhook_key":"h"}`, "1", 0},
		{`{"privacy_request_id":"pri_1","webhook_key":"h"}`, "3", 1500},
		{`{"privacy_request_id":"pri_1","webhook_key":"h","run":2,"attempts":4}`, "1", 1500},
		{`{"privacy_request_id":"pri_1","webhook_key":"h","attempts":9223372036854775807}`, "1", 1500},
		{`{"privacy_request_id":"pri_1","webhook_key":"h","attempts":-3}`, "1", 1500},
		{`{"delivery_id":"x","privacy_request_id":"pri_1","webhook_key":"h","extra":[1]}`, "-1", 1 << 31},
		{`{"privacy_request_id":"","webhook_key":"h"}`, "", 10},
		{`{"privacy_request_id":1}`, "x", 0},
		{`not json`, "1", 0}, {``, "1", 0}, {`null`, "99999999999999999999", 0}, {`[]`, "1", 0},
	} {
		f.Add(s.body, s.receives, s.retryMS)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	emitter := metrics.New(io.Discard, "Pregate", time.Now)
	f.Fuzz(func(t *testing.T, body, receives string, retryMS uint32) {
		retryAfter := time.Duration(retryMS) * time.Millisecond
		deliv := &recordingDeliverer{out: gate.Outcome{Kind: gate.OutcomeRetry, RetryAfter: retryAfter}}
		q := &fakeSQS{got: map[string]int32{}}
		h := &Handler{Deliveries: deliv, SQS: q, QueueURL: "u", Log: log, Metrics: emitter}
		msg := events.SQSMessage{MessageId: "m", ReceiptHandle: "rh", Body: body, Attributes: map[string]string{"ApproximateReceiveCount": receives}}
		resp, err := h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{msg}})
		if err != nil {
			t.Fatalf("handler error %v", err)
		}
		var want queue.DeliveryBody
		if json.Unmarshal([]byte(body), &want) != nil || want.PrivacyRequestID == "" || want.WebhookKey == "" {
			// A refusal keeps the message, for the DLQ.
			if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m" {
				t.Fatalf("batch item failures %+v, want [m]", resp.BatchItemFailures)
			}
			if len(deliv.calls) != 0 || len(q.got) != 0 || len(q.sent) != 0 {
				t.Fatalf("body %q refused yet delivered %+v", body, deliv.calls)
			}
			return
		}
		if len(resp.BatchItemFailures) != 0 {
			t.Fatalf("batch item failures %+v after a retry was sent", resp.BatchItemFailures)
		}
		if want.DeliveryID == "" {
			want.DeliveryID = gate.RunDeliveryID(want.PrivacyRequestID, want.WebhookKey, want.Run)
		}
		if len(deliv.calls) != 1 || deliv.calls[0] != (gate.Delivery{ID: want.DeliveryID, PrivacyRequestID: want.PrivacyRequestID, WebhookKey: want.WebhookKey, Run: want.Run}) {
			t.Fatalf("body %q delivered %+v, want %+v", body, deliv.calls, want)
		}
		if n := deliv.attempts[0]; n < 1 || want.Attempts >= 0 && want.Attempts < maxCountedAttempts && n != want.Attempts+1 {
			t.Fatalf("body %q gave attempt %d", body, n)
		}
		if len(q.got) != 0 || len(q.sent) != 1 {
			t.Fatalf("retry: visibility %v, sent %+v", q.got, q.sent)
		}
		var next queue.DeliveryBody
		if err := json.Unmarshal([]byte(aws.ToString(q.sent[0].MessageBody)), &next); err != nil || next.Attempts != deliv.attempts[0] ||
			next.PrivacyRequestID != want.PrivacyRequestID || next.WebhookKey != want.WebhookKey || next.Run != want.Run || next.DeliveryID != want.DeliveryID {
			t.Fatalf("retry body %s after %q", aws.ToString(q.sent[0].MessageBody), body)
		}
		if d := q.sent[0].DelaySeconds; d < 0 || d > int32(maxDelay/time.Second) || time.Duration(d)*time.Second < min(retryAfter, maxDelay) {
			t.Fatalf("retry after %v delayed %d s", retryAfter, d)
		}
	})
}
