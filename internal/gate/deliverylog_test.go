package gate

import (
	"context"
	"fmt"
	"slices"
	"strings"
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

// Attempts returns every logged attempt, newest first, in one page.
func (m *memDeliveryLog) Attempts(context.Context, string, int, string) ([]LoggedAttempt, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.attempts)
	slices.Reverse(out)
	return out, "", nil
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

type memNotifier struct{ sent []Notification }

func (m *memNotifier) Notify(_ context.Context, n Notification) error {
	m.sent = append(m.sent, n)
	return nil
}

// The admins are told once when a webhook's deliveries have failed five
// times in a row, each after its retries: retried attempts between them do
// not break the row, a delivery that succeeded does, and the sixth failure
// in a row tells nobody again.
func TestAdminsAreToldOfFiveFailedDeliveriesInARow(t *testing.T) {
	u, store, _ := newDispatchFixture(StatusAwaitingPreApproval, WebhookPending, CallResult{StatusCode: 500, Retryable: true, Reason: "HTTP 500"})
	log, told := &memDeliveryLog{}, &memNotifier{}
	u.Attempts, u.Notifier, u.Links = log, told, ConsoleLinks{PublicBaseURL: "https://gate.example/api/v1"}
	caller := u.Caller.(*fakeCaller)
	failDelivery := func(n int) {
		t.Helper()
		id := fmt.Sprintf("pri_f%d", n)
		r := *store.reqs["pri_1"]
		r.ID, r.Webhooks = id, []SnapshotWebhook{{Key: "hook", Name: "Hook"}}
		store.reqs[id] = &r
		for attempt := 1; attempt <= u.MaxAttempts; attempt++ { // retried, then failed for good
			if _, err := deliver(u, Delivery{ID: id + ":hook", PrivacyRequestID: id, WebhookKey: "hook"}, attempt); err != nil {
				t.Fatal(err)
			}
		}
	}
	for n := range 4 {
		failDelivery(n)
	}
	if len(told.sent) != 0 {
		t.Fatalf("told after 4 failed deliveries: %+v", told.sent)
	}
	failDelivery(4)
	if len(told.sent) != 1 || told.sent[0].Kind != NotifyWebhookFailing || !strings.Contains(told.sent[0].Message, "'hook' failed 5 times") {
		t.Fatalf("after 5 failed deliveries: %+v", told.sent)
	}
	failDelivery(5)
	if len(told.sent) != 1 {
		t.Fatalf("told again at the sixth: %+v", told.sent)
	}
	// A delivery that succeeds ends the row; five more failures tell again.
	caller.res = CallResult{OK: true, StatusCode: 200}
	r := *store.reqs["pri_1"]
	r.ID, r.Webhooks = "pri_ok", []SnapshotWebhook{{Key: "hook", Name: "Hook"}}
	store.reqs["pri_ok"] = &r
	if _, err := deliver(u, Delivery{ID: "pri_ok:hook", PrivacyRequestID: "pri_ok", WebhookKey: "hook"}, 1); err != nil {
		t.Fatal(err)
	}
	caller.res = CallResult{StatusCode: 500, Retryable: true, Reason: "HTTP 500"}
	for n := 10; n < 15; n++ {
		failDelivery(n)
	}
	if len(told.sent) != 2 {
		t.Fatalf("after a success and 5 more failures: %d notifications, want 2", len(told.sent))
	}
}
