package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// queueFunc is an approved queue whose sends run f.
type queueFunc func(m ApprovedMessage) error

func (f queueFunc) PublishApproved(_ context.Context, m ApprovedMessage) error { return f(m) }

func approvedAt(id string, at time.Time) *PrivacyRequest {
	return &PrivacyRequest{ID: id, Status: StatusApproved, PolicyAction: "erasure", ApprovedAt: &at}
}

func newPublisher(store PublishStore, q ApprovedPublisher, now *time.Time, token string) *Publisher {
	return &Publisher{Store: store, Queue: q, Now: func() time.Time { return *now }, NewToken: func() string { return token },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// The stream's publisher and the reconciler's, racing on one approval: the
// second reads the request while the first is sending, before its mark, and
// sends nothing. Without a claim both sent (SQS's deduplication window was
// all that stood between downstream and a second erasure).
func TestTwoPublishersSendOnce(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	store := newDeadlineStore(approvedAt("r", now))
	var sent []string
	var second *Publisher
	var secondSent bool
	var secondErr error
	q := queueFunc(func(m ApprovedMessage) error {
		sent = append(sent, m.PrivacyRequestID)
		if len(sent) == 1 { // the other publisher, while this one sends
			secondSent, secondErr = second.Publish(context.Background(), m)
		}
		return nil
	})
	first := newPublisher(store, q, &now, "stream")
	second = newPublisher(store, q, &now, "reconciler")
	ok, err := first.Publish(context.Background(), ApprovedMessage{PrivacyRequestID: "r", PolicyAction: "erasure", ApprovedAt: now})
	if !ok || err != nil || secondSent || secondErr != nil {
		t.Fatalf("first sent %v (%v), second sent %v (%v)", ok, err, secondSent, secondErr)
	}
	if len(sent) != 1 {
		t.Fatalf("%d messages, want 1", len(sent))
	}
	if r := store.reqs["r"]; r.PublishedAt == nil || r.DueAt != nil || r.Publishing != nil {
		t.Fatalf("after publishing: %+v", r)
	}
}

// Many publishers at once (replayed records, overlapping reconciler runs):
// one message.
func TestConcurrentPublishersSendOnce(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	store := newDeadlineStore(approvedAt("r", now))
	var mu sync.Mutex
	sends := 0
	q := queueFunc(func(ApprovedMessage) error {
		mu.Lock()
		sends++
		mu.Unlock()
		time.Sleep(time.Millisecond) // a send takes a while: the others run meanwhile
		return nil
	})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newPublisher(store, q, &now, fmt.Sprint("p", i))
			if _, err := p.Publish(context.Background(), ApprovedMessage{PrivacyRequestID: "r", ApprovedAt: now}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if sends != 1 {
		t.Fatalf("%d messages from 16 publishers, want 1", sends)
	}
}

// A publisher that claimed and then failed (its send refused, or it
// crashed) holds the request for the lease: no other publisher sends
// meanwhile, the request is due again when the lease ends, and the
// reconciler then sends and marks.
func TestExpiredClaimIsTakenOver(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	store := newDeadlineStore(due(approvedAt("r", now.Add(-time.Minute)), now))
	var sent []ApprovedMessage
	down := true
	q := queueFunc(func(m ApprovedMessage) error {
		if down {
			return errors.New("queue unavailable")
		}
		sent = append(sent, m)
		return nil
	})
	stream := newPublisher(store, q, &now, "stream")
	if ok, err := stream.Publish(context.Background(), ApprovedMessage{PrivacyRequestID: "r", ApprovedAt: now}); ok || err == nil {
		t.Fatalf("send refused: sent %v (%v), want an error", ok, err)
	}
	if d := store.reqs["r"].DueAt; d == nil || !d.Equal(now.Add(PublishLease)) {
		t.Fatalf("due at %v after the claim, want at its end %v", d, now.Add(PublishLease))
	}
	down = false

	// Within the lease: the replayed record and the reconciler leave it alone.
	later := now.Add(PublishLease / 2)
	other := newPublisher(store, q, &later, "replay")
	if ok, err := other.Publish(context.Background(), ApprovedMessage{PrivacyRequestID: "r", ApprovedAt: now}); ok || err != nil {
		t.Fatalf("within the lease: sent %v (%v)", ok, err)
	}
	rec := newReconciler(store, 0, later)
	rec.Publisher.Queue = q
	if res, err := rec.Run(context.Background()); err != nil || res != (ReconcileResult{}) {
		t.Fatalf("reconciler within the lease: %+v (%v), want nothing due", res, err)
	}

	// The lease ended: the reconciler publishes.
	after := now.Add(PublishLease)
	rec = newReconciler(store, 0, after)
	rec.Publisher.Queue = q
	if res, err := rec.Run(context.Background()); err != nil || res != (ReconcileResult{Published: 1}) {
		t.Fatalf("reconciler after the lease: %+v (%v)", res, err)
	}
	if len(sent) != 1 || store.reqs["r"].PublishedAt == nil || store.reqs["r"].DueAt != nil {
		t.Fatalf("sent %d, request %+v", len(sent), store.reqs["r"])
	}
}

// The claim's refusals: a request not approved, or marked, is not sent; a
// claim whose response was lost and retried by the same publisher is its
// own; a mark refused after the send (another publisher marked) still sent.
func TestPublishClaimRefusals(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	marked := now.Add(-time.Minute)
	store := newDeadlineStore(
		&PrivacyRequest{ID: "pending", Status: StatusPending},
		&PrivacyRequest{ID: "marked", Status: StatusApproved, ApprovedAt: &marked, PublishedAt: &marked},
		approvedAt("lost-claim", now), approvedAt("marked-meanwhile", now),
	)
	sends := map[string]int{}
	q := queueFunc(func(m ApprovedMessage) error {
		sends[m.PrivacyRequestID]++
		if m.PrivacyRequestID == "marked-meanwhile" {
			at := now
			store.reqs[m.PrivacyRequestID].PublishedAt = &at
		}
		return nil
	})
	p := newPublisher(store, q, &now, "me")
	store.onClaim = func(id string) {
		if id == "lost-claim" && store.reqs[id].Publishing == nil { // applied, then the SDK retries
			store.reqs[id].Publishing = &PublishClaim{Token: "me", Until: now.Add(PublishLease)}
		}
	}
	for _, tc := range []struct {
		id   string
		sent bool
	}{{"pending", false}, {"marked", false}, {"lost-claim", true}, {"marked-meanwhile", true}, {"missing", false}} {
		ok, err := p.Publish(context.Background(), ApprovedMessage{PrivacyRequestID: tc.id, ApprovedAt: now})
		if ok != tc.sent || err != nil || sends[tc.id] != map[bool]int{true: 1}[tc.sent] {
			t.Errorf("%s: sent %v (%v), %d messages; want sent %v", tc.id, ok, err, sends[tc.id], tc.sent)
		}
	}
}
