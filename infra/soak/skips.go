package main

import (
	"encoding/json"
	"sync"
	"time"
)

// droppedDeliveries reads the gate's JSON log lines and keeps when the
// dispatcher dropped a delivery because its webhook was no longer
// configured, by request id and webhook key: the one fact that explains a
// removed webhook's missing delivery exactly, however late its message was
// handled behind a backlog.
type droppedDeliveries struct {
	mu sync.Mutex
	at map[string]map[string]time.Time
}

func newDroppedDeliveries() *droppedDeliveries {
	return &droppedDeliveries{at: map[string]map[string]time.Time{}}
}

// Write takes one log record (slog's JSON handler writes each in one call).
func (d *droppedDeliveries) Write(p []byte) (int, error) {
	var line struct {
		Time    time.Time `json:"time"`
		Msg     string    `json:"msg"`
		Reason  string    `json:"reason"`
		Request string    `json:"privacy_request_id"`
		Webhook string    `json:"webhook_key"`
	}
	if json.Unmarshal(p, &line) != nil || line.Msg != "delivery skipped" || line.Reason != "webhook no longer configured" {
		return len(p), nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.at[line.Request] == nil {
		d.at[line.Request] = map[string]time.Time{}
	}
	if first, ok := d.at[line.Request][line.Webhook]; !ok || line.Time.Before(first) {
		d.at[line.Request][line.Webhook] = line.Time
	}
	return len(p), nil
}

// of returns when each of a request's deliveries was first dropped.
func (d *droppedDeliveries) of(id string) map[string]time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]time.Time{}
	for k, at := range d.at[id] {
		out[k] = at
	}
	return out
}
