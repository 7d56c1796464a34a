package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/metrics"
)

// Each delivery attempt is one Deliveries line with its outcome, webhook and
// latency; a fault of ours counts as "error"; a body that does not parse is
// no delivery at all.
func TestHandleEmitsOneDeliveryLinePerAttempt(t *testing.T) {
	var buf bytes.Buffer
	h := &Handler{Deliveries: &fakeDeliverer{got: map[string]int{}}, SQS: &fakeSQS{got: map[string]int32{}}, QueueURL: "u",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics.New(&buf, "Pregate", time.Now)}
	ev := events.SQSEvent{Records: []events.SQSMessage{
		msg("1", "ok", 0, "1"), msg("2", "retry", 1, "2"), msg("3", "boom", 0, "1"), msg("4", "failed", 2, "3"), msg("5", "skipped", 0, "1"),
		{MessageId: "6", Body: "not json"},
	}}
	if _, err := h.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{} // webhook key -> outcome
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if m["Deliveries"] != 1.0 || m["privacy_request_id"] != "pri_1" {
			t.Errorf("line %v", m)
		}
		// fakeDeliverer takes 10 ms per call.
		if ms, _ := m["DeliveryLatency"].(float64); ms < 10 {
			t.Errorf("latency %v ms, want >= 10", m["DeliveryLatency"])
		}
		got[m["webhook_key"].(string)] = m["outcome"].(string)
	}
	want := map[string]string{"ok": "delivered", "retry": "retry", "boom": "error", "failed": "failed", "skipped": "skipped"}
	if len(got) != len(want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: outcome %q, want %q", k, got[k], v)
		}
	}
}
