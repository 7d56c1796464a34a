package gate

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"time"
)

// DeliveryLogRetention is how long the delivery log keeps an attempt.
const DeliveryLogRetention = 30 * 24 * time.Hour

// HealthWindow is the span a webhook's health covers.
const HealthWindow = 24 * time.Hour

// LoggedAttempt is one call attempt of one delivery, as the delivery log
// keeps it. Outcome is called or failed when logged; the validator's reply
// to the call later makes it eligible or not_eligible.
type LoggedAttempt struct {
	PrivacyRequestID string
	Run              int
	Attempt          int
	At               time.Time
	Outcome          WebhookState
	HTTPStatus       int           // 0: no response
	Latency          time.Duration // 0 with no call made (a failure of ours)
	Error            string        // the reason as the timeline gives it; "" unless failed
	// Final marks the delivery's last attempt: the call that succeeded, or
	// the failure after which it is not retried.
	Final bool
}

// FailingStreak is how many deliveries of a webhook in a row must fail
// (each after its retries) for the admins to be told.
const FailingStreak = 5

// failingScan bounds how many of a webhook's newest attempts the check for
// a failing streak reads (retried attempts sit between deliveries' ends).
const failingScan = 200

// endsFailedInARow reports whether the newest FailingStreak deliveries of
// key that ended failed and the one before them (if any) did not: true once
// per streak, when it reaches FailingStreak.
func endsFailedInARow(ctx context.Context, log DeliveryLog, key string) (bool, error) {
	failed, after, read := 0, "", 0
	for read < failingScan {
		items, next, err := log.Attempts(ctx, key, MaxPageSize, after)
		if err != nil {
			return false, err
		}
		for _, a := range items {
			read++
			if !a.Final {
				continue
			}
			if a.Outcome != WebhookFailed {
				return failed == FailingStreak, nil
			}
			if failed++; failed > FailingStreak {
				return false, nil
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	return failed == FailingStreak, nil
}

// HealthCounts is what the delivery log counted for a webhook since a time:
// Latencies holds the count of calls per LatencyBucket.
type HealthCounts struct {
	Calls, Failures, Eligible, NotEligible int
	Latencies                              map[int64]int
	LastFailureAt                          *time.Time
	LastFailure                            string
}

// DeliveryLog keeps every call attempt of every webhook for
// DeliveryLogRetention (docs/internals/storage.md, "Delivery log").
type DeliveryLog interface {
	// LogAttempt records one attempt of webhookKey and counts it in its health.
	LogAttempt(ctx context.Context, webhookKey string, a LoggedAttempt) error
	// LogReply makes answer the outcome of the call of run of request id
	// that it answers (whether that call is logged yet or not) and counts it.
	LogReply(ctx context.Context, webhookKey, id string, run int, answer WebhookState, at time.Time) error
	// Attempts returns up to size attempts of webhookKey, newest first,
	// after the position after ("" from the newest), and the position to
	// continue from ("" at the end).
	Attempts(ctx context.Context, webhookKey string, size int, after string) ([]LoggedAttempt, string, error)
	// Counts adds up the attempts and replies of webhookKey counted since since.
	Counts(ctx context.Context, webhookKey string, since time.Time) (HealthCounts, error)
}

// LatencyBucket is the value a latency of ms milliseconds is counted as in
// a webhook's health: exact below 100 ms, above that rounded up to two
// significant digits (123 → 130, 4,321 → 4,400), so at most 10% high. A
// webhook's counts stay small whatever its traffic.
func LatencyBucket(ms int64) int64 {
	if ms < 100 {
		return max(ms, 0)
	}
	unit := int64(1)
	for ms/unit >= 100 {
		unit *= 10
	}
	return (ms + unit - 1) / unit * unit
}

// nearestRank is the p-th percentile (0 < p ≤ 100) of counts by the
// nearest-rank method: the smallest value with at least ceil(p·n/100)
// values at or below it. ok is false with no values.
func nearestRank(counts map[int64]int, p int) (v int64, ok bool) {
	n := 0
	for _, c := range counts {
		n += c
	}
	if n == 0 {
		return 0, false
	}
	rank := (p*n + 99) / 100
	values := slices.Sorted(maps.Keys(counts))
	seen := 0
	for _, v := range values {
		seen += counts[v]
		if seen >= rank {
			return v, true
		}
	}
	return values[len(values)-1], true
}

// WebhookHealth is a webhook's health over the last HealthWindow.
type WebhookHealth struct {
	HealthCounts
	P50, P95            *int64 // milliseconds; nil without calls
	ConsecutiveFailures int
}

// maxConsecutiveFailures bounds how far back the health reads the log to
// count the failures in a row; a webhook past it shows this many.
const maxConsecutiveFailures = 1000

// WebhookActivity serves a webhook's delivery log and health.
type WebhookActivity struct {
	Webhooks WebhookLister
	Log      DeliveryLog
	Now      func() time.Time
}

// attemptPosition is the shape of a position in the delivery log: the
// attempt's time, request id, run and attempt number.
var attemptPosition = lazyPattern(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z#pri_[0-9a-f-]{36}#\d{1,2}#\d{1,3}$`)

// DeliveryPage is one page of a webhook's delivery log.
type DeliveryPage struct {
	Items      []LoggedAttempt
	NextCursor string
}

func (u *WebhookActivity) configured(ctx context.Context, key string) error {
	cfg, err := u.Webhooks.ListWebhooks(ctx)
	if err != nil {
		return fmt.Errorf("list webhooks: %w", err)
	}
	if !slices.ContainsFunc(cfg.Webhooks, func(h Webhook) bool { return h.Key == key }) {
		return webhookNotFound(key)
	}
	return nil
}

// Deliveries lists a configured webhook's call attempts, newest first.
func (u *WebhookActivity) Deliveries(ctx context.Context, key string, size int, cursor string) (DeliveryPage, error) {
	if size < 1 || size > MaxPageSize {
		return DeliveryPage{}, Invalid(fmt.Sprintf("ensure this value is between 1 and %d", MaxPageSize), "value_error.number", "query", "size")
	}
	after := ""
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || !attemptPosition().Match(raw) {
			return DeliveryPage{}, errInvalidCursor
		}
		after = string(raw)
	}
	if err := u.configured(ctx, key); err != nil {
		return DeliveryPage{}, err
	}
	items, next, err := u.Log.Attempts(ctx, key, size, after)
	if err != nil {
		return DeliveryPage{}, err
	}
	page := DeliveryPage{Items: items}
	if next != "" {
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(next))
	}
	return page, nil
}

// Health is a configured webhook's health over the last HealthWindow.
func (u *WebhookActivity) Health(ctx context.Context, key string) (WebhookHealth, error) {
	if err := u.configured(ctx, key); err != nil {
		return WebhookHealth{}, err
	}
	since := u.Now().UTC().Add(-HealthWindow)
	counts, err := u.Log.Counts(ctx, key, since)
	if err != nil {
		return WebhookHealth{}, err
	}
	h := WebhookHealth{HealthCounts: counts}
	if v, ok := nearestRank(counts.Latencies, 50); ok {
		h.P50 = &v
	}
	if v, ok := nearestRank(counts.Latencies, 95); ok {
		h.P95 = &v
	}
	h.ConsecutiveFailures, err = u.consecutiveFailures(ctx, key, since)
	return h, err
}

// consecutiveFailures counts the newest attempts since since that failed,
// up to the first that did not.
func (u *WebhookActivity) consecutiveFailures(ctx context.Context, key string, since time.Time) (int, error) {
	n, after := 0, ""
	for n < maxConsecutiveFailures {
		items, next, err := u.Log.Attempts(ctx, key, min(MaxPageSize, maxConsecutiveFailures-n), after)
		if err != nil {
			return 0, err
		}
		for _, a := range items {
			if a.Outcome != WebhookFailed || a.At.Before(since) {
				return n, nil
			}
			n++
		}
		if next == "" {
			break
		}
		after = next
	}
	return n, nil
}
