package dispatch

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

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
// body names it; a retry's visibility is within SQS's bounds and never
// shorter than the backoff asked for (up to the 12 h cap).
func FuzzDispatchMessage(f *testing.F) {
	for _, s := range []struct {
		body, receives string
		retryMS        uint32
	}{
		{`{"delivery_id":"pri_1:h","privacy_request_id":"pri_1","webhook_key":"h"}`, "1", 0},
		{`{"privacy_request_id":"pri_1","webhook_key":"h"}`, "3", 1500},
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
		// Every outcome here keeps the message: a refusal, or a retry.
		if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m" {
			t.Fatalf("batch item failures %+v, want [m]", resp.BatchItemFailures)
		}
		var want queue.DeliveryBody
		if json.Unmarshal([]byte(body), &want) != nil || want.PrivacyRequestID == "" || want.WebhookKey == "" {
			if len(deliv.calls) != 0 || len(q.got) != 0 {
				t.Fatalf("body %q refused yet delivered %+v", body, deliv.calls)
			}
			return
		}
		if want.DeliveryID == "" {
			want.DeliveryID = gate.DeliveryID(want.PrivacyRequestID, want.WebhookKey)
		}
		if len(deliv.calls) != 1 || deliv.calls[0] != (gate.Delivery{ID: want.DeliveryID, PrivacyRequestID: want.PrivacyRequestID, WebhookKey: want.WebhookKey}) {
			t.Fatalf("body %q delivered %+v, want %+v", body, deliv.calls, want)
		}
		if n, err := strconv.Atoi(receives); deliv.attempts[0] < 1 || (err == nil && n >= 1 && deliv.attempts[0] != n) {
			t.Fatalf("receive count %q gave attempt %d", receives, deliv.attempts[0])
		}
		vis, ok := q.got["rh"]
		if !ok || vis < 0 || vis > int32(maxVisibility/time.Second) || time.Duration(vis)*time.Second < min(retryAfter, maxVisibility) {
			t.Fatalf("retry after %v set visibility %d s (set: %v)", retryAfter, vis, ok)
		}
	})
}
