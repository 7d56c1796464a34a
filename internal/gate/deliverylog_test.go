package gate

import (
	"context"
	"sync"
	"testing"
	"time"
)

// memDeliveryLog keeps what the dispatcher and replies log.
type memDeliveryLog struct {
	DeliveryLog
	mu       sync.Mutex
	attempts []LoggedAttempt
	replies  []WebhookState
}

func (m *memDeliveryLog) LogAttempt(_ context.Context, _ string, a LoggedAttempt) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempts = append(m.attempts, a)
	return nil
}

func (m *memDeliveryLog) LogReply(_ context.Context, _, _ string, _ int, answer WebhookState, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.replies = append(m.replies, answer)
	return nil
}

func TestLatencyBucket(t *testing.T) {
	for ms, want := range map[int64]int64{-1: 0, 0: 0, 99: 99, 100: 100, 101: 110, 123: 130, 990: 990, 991: 1000, 4321: 4400, 10_001: 11_000} {
		if got := LatencyBucket(ms); got != want {
			t.Errorf("LatencyBucket(%d) = %d, want %d", ms, got, want)
		}
	}
}

// Nearest rank: the smallest value with at least ceil(p·n/100) values at
// or below it.
func TestNearestRank(t *testing.T) {
	counts := map[int64]int{}
	for v := int64(1); v <= 20; v++ {
		counts[v*10]++
	}
	for p, want := range map[int]int64{50: 100, 95: 190, 100: 200, 1: 10} {
		if got, ok := nearestRank(counts, p); !ok || got != want {
			t.Errorf("p%d of 10..200 = %d, want %d", p, got, want)
		}
	}
	if got, _ := nearestRank(map[int64]int{5: 19, 900: 1}, 95); got != 5 {
		t.Errorf("p95 of 19×5 and one 900 = %d, want 5", got)
	}
	if _, ok := nearestRank(map[int64]int{}, 50); ok {
		t.Error("a percentile of no calls")
	}
}

// Every attempt goes into the delivery log: the call with its status and
// latency, a failure with its reason, a failure of ours without a call.
func TestDispatcherLogsEveryAttempt(t *testing.T) {
	for _, c := range []struct {
		name      string
		res       CallResult
		noSecrets bool
		want      LoggedAttempt
	}{
		{"called", CallResult{StatusCode: 204, OK: true}, false, LoggedAttempt{Outcome: WebhookCalled, HTTPStatus: 204, Latency: 250 * time.Millisecond}},
		{"failed", CallResult{StatusCode: 500, Retryable: true, Reason: "HTTP 500"}, false,
			LoggedAttempt{Outcome: WebhookFailed, HTTPStatus: 500, Latency: 250 * time.Millisecond, Error: "HTTP 500"}},
		{"no secrets", CallResult{}, true, LoggedAttempt{Outcome: WebhookFailed}},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, _, _ := newDispatchFixture(StatusAwaitingPreApproval, WebhookPending, c.res)
			now := dispatchNow
			u.Now = func() time.Time { now = now.Add(250 * time.Millisecond); return now }
			if c.noSecrets {
				u.Targets = noSecretsTargets{}
			}
			log := &memDeliveryLog{}
			u.Attempts = log
			if _, err := deliver(u, Delivery{ID: "pri_1:hook", PrivacyRequestID: "pri_1", WebhookKey: "hook"}, 2); err != nil {
				t.Fatal(err)
			}
			if len(log.attempts) != 1 {
				t.Fatalf("%d attempts logged, want 1", len(log.attempts))
			}
			got := log.attempts[0]
			if got.PrivacyRequestID != "pri_1" || got.Attempt != 2 || got.Outcome != c.want.Outcome || got.HTTPStatus != c.want.HTTPStatus ||
				got.Latency != c.want.Latency || (c.want.Error != "" && got.Error != c.want.Error) || got.Outcome == WebhookFailed && got.Error == "" {
				t.Fatalf("logged %+v, want %+v", got, c.want)
			}
		})
	}
}

type noSecretsTargets struct{}

func (noSecretsTargets) DeliveryTargets(_ context.Context, keys []string) map[string]TargetResult {
	out := map[string]TargetResult{}
	for _, k := range keys {
		out[k] = TargetResult{Err: &NoSecretsError{ConnectionKey: "c"}}
	}
	return out
}
