package metrics_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pregate/pregate/internal/metrics"
)

var at = time.Date(2026, 11, 27, 3, 0, 0, 123_000_000, time.UTC)

func fixed() time.Time { return at }

// decode reads one line as generic JSON, the way CloudWatch Logs reads it.
func decode(t *testing.T, line string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	return m
}

func TestEncodeFollowsTheEMFStructure(t *testing.T) {
	b := metrics.Encode("Pregate", at, metrics.Line{
		Dimensions: [][]string{{"outcome"}, {"webhook_key", "outcome"}},
		Properties: map[string]string{"outcome": "failed", "webhook_key": "crm", "privacy_request_id": "pri_1"},
		Metrics:    []metrics.Metric{{Name: "Deliveries", Unit: metrics.Count, Value: 1}, {Name: "DeliveryLatency", Unit: metrics.Milliseconds, Value: 12.5}},
	})
	got := decode(t, string(b))
	want := map[string]any{
		"_aws": map[string]any{
			"Timestamp": float64(at.UnixMilli()),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "Pregate",
				"Dimensions": []any{[]any{"outcome"}, []any{"webhook_key", "outcome"}},
				"Metrics": []any{
					map[string]any{"Name": "Deliveries", "Unit": "Count"},
					map[string]any{"Name": "DeliveryLatency", "Unit": "Milliseconds"},
				},
			}},
		},
		"outcome": "failed", "webhook_key": "crm", "privacy_request_id": "pri_1",
		"Deliveries": float64(1), "DeliveryLatency": 12.5,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %s\nwant %v", b, want)
	}
	if at.UnixMilli() != 1795748400123 {
		t.Fatalf("timestamp %d is not in milliseconds", at.UnixMilli())
	}
	if bytes.ContainsRune(b, '\n') {
		t.Fatal("a document must be one line")
	}
}

func TestEncodeWithoutDimensionsKeepsAnArray(t *testing.T) {
	got := decode(t, string(metrics.Encode("Pregate", at, metrics.Line{Metrics: []metrics.Metric{{Name: "X", Unit: metrics.Count, Value: 2}}})))
	d := got["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if dims, ok := d["Dimensions"].([]any); !ok || len(dims) != 0 {
		t.Fatalf("Dimensions %v, want []", d["Dimensions"])
	}
}

// Every dimension key of every directive is present at the root as a
// string, and every metric has a number there: what the spec requires.
func TestCatalogueLinesAreValid(t *testing.T) {
	var buf bytes.Buffer
	e := metrics.New(&buf, "Pregate/test", fixed)
	e.Delivery("pri_1", "crm", "delivered", 1500*time.Microsecond)
	e.Reply("pri_1", "not_eligible", false)
	e.Decision("pri_1", "auto_approved")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines: %q", len(lines), buf.String())
	}
	wantValues := []map[string]any{
		{"outcome": "delivered", "webhook_key": "crm", "Deliveries": 1.0, "DeliveryLatency": 1.5},
		{"answer": "not_eligible", "outcome": "refused", "Replies": 1.0},
		{"decision": "auto_approved", "Decisions": 1.0},
	}
	for i, line := range lines {
		m := decode(t, line)
		aws := m["_aws"].(map[string]any)
		if aws["Timestamp"] != float64(at.UnixMilli()) {
			t.Errorf("line %d timestamp %v", i, aws["Timestamp"])
		}
		d := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
		if d["Namespace"] != "Pregate/test" {
			t.Errorf("line %d namespace %v", i, d["Namespace"])
		}
		for _, set := range d["Dimensions"].([]any) {
			for _, k := range set.([]any) {
				if _, ok := m[k.(string)].(string); !ok {
					t.Errorf("line %d: dimension %v has no string value at the root", i, k)
				}
			}
		}
		for _, md := range d["Metrics"].([]any) {
			if _, ok := m[md.(map[string]any)["Name"].(string)].(float64); !ok {
				t.Errorf("line %d: metric %v has no number at the root", i, md)
			}
		}
		for k, v := range wantValues[i] {
			if m[k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, m[k], v)
			}
		}
		if m["privacy_request_id"] != "pri_1" {
			t.Errorf("line %d: privacy_request_id %v", i, m["privacy_request_id"])
		}
	}
}

// Lines written at once by concurrent deliveries stay whole.
func TestEmitterWritesWholeLinesConcurrently(t *testing.T) {
	var buf bytes.Buffer
	e := metrics.New(&buf, "Pregate", fixed)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { e.Delivery("pri_1", "crm", "retry", time.Millisecond) })
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 50 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		decode(t, l)
	}
}

func TestNilEmitterRecordsNothing(t *testing.T) {
	var e *metrics.Emitter
	e.Delivery("pri_1", "crm", "delivered", time.Millisecond) // must not panic
}
