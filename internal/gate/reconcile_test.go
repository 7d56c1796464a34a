package gate

import (
	"context"
	"testing"
	"time"
)

// One request whose read fails is logged and skipped; the others are done,
// and the poisoned one stays due for the next run.
func TestReconcilerSurvivesAPoisonedRequest(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	store := newDeadlineStore()
	for _, id := range []string{"r1", "r2", "r3"} {
		store.reqs[id] = due(&PrivacyRequest{ID: id, Status: StatusAwaitingPreApproval, CreatedAt: now.Add(-time.Hour),
			Webhooks: []SnapshotWebhook{withState("a", "Hook a", WebhookEligible)}}, now)
	}
	store.failGet = map[string]bool{"r2": true}
	res, err := newReconciler(store, 0, now, "a").Run(context.Background())
	if err != nil || res != (ReconcileResult{Approved: 2, Failed: 1}) {
		t.Fatalf("run %+v (%v), want 2 approved and 1 failed", res, err)
	}
	if store.reqs["r2"].Status != StatusAwaitingPreApproval || store.reqs["r2"].DueAt == nil {
		t.Fatalf("poisoned request %+v: want it left due", store.reqs["r2"])
	}
}

// An approval never published is published and marked, once.
func TestReconcilerPublishesUnpublishedApprovals(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	at := now.Add(-time.Hour)
	marked := now.Add(-30 * time.Minute)
	store := newDeadlineStore(
		due(&PrivacyRequest{ID: "lost", Status: StatusApproved, PolicyAction: "erasure", ApprovedAt: &at, ApprovedBy: "admin"}, now),
		due(&PrivacyRequest{ID: "marked", Status: StatusApproved, ApprovedAt: &at, PublishedAt: &marked}, now),
	)
	rec := newReconciler(store, 0, now)
	res, err := rec.Run(context.Background())
	if err != nil || res != (ReconcileResult{Published: 1, Postponed: 1}) {
		t.Fatalf("run %+v (%v), want 1 published and the marked one out of the index", res, err)
	}
	q := rec.Deliveries.(*recordingQueue)
	if len(q.approved) != 1 || q.approved[0] != (ApprovedMessage{PrivacyRequestID: "lost", PolicyAction: "erasure", ApprovedAt: at, ApprovedBy: "admin"}) {
		t.Fatalf("published %+v", q.approved)
	}
	if r := store.reqs["lost"]; r.PublishedAt == nil || r.DueAt != nil || store.reqs["marked"].DueAt != nil {
		t.Fatalf("after publishing: %+v", r)
	}
	if again, err := rec.Run(context.Background()); err != nil || again != (ReconcileResult{}) || len(q.approved) != 1 {
		t.Fatalf("second run %+v (%v), %d messages", again, err, len(q.approved))
	}
	// A stream record of the approval replayed after the mark sends nothing.
	if sent, err := rec.Publisher.Publish(context.Background(), q.approved[0]); sent || err != nil || len(q.approved) != 1 {
		t.Fatalf("replay after the mark: sent %v (%v)", sent, err)
	}
}

// Deliveries still unrecorded DispatchGrace after the webhooks were
// triggered (a lost stream record) are enqueued again, only those; before
// that the request backs off, but never past the end of its grace.
func TestReconcilerEnqueuesLostDeliveries(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	hooks := []SnapshotWebhook{withState("a", "Hook a", WebhookEligible), {Key: "b", Name: "Hook b"}, {Key: "c", Name: "Hook c"}}
	req := func(id string, triggered time.Duration) *PrivacyRequest {
		return due(&PrivacyRequest{ID: id, Status: StatusAwaitingPreApproval, CreatedAt: now.Add(-triggered),
			Webhooks: append([]SnapshotWebhook(nil), hooks...),
			Activity: []ActivityEntry{{At: now.Add(-triggered), Kind: KindTriggered}}}, now)
	}
	store := newDeadlineStore(req("lost", 2*time.Hour), req("in-flight", 10*time.Minute))
	rec := newReconciler(store, 0, now, "a", "b", "c") // DispatchGrace 1 h
	res, err := rec.Run(context.Background())
	if err != nil || res != (ReconcileResult{Redelivered: 1, Postponed: 2}) {
		t.Fatalf("run %+v (%v)", res, err)
	}
	q := rec.Deliveries.(*recordingQueue)
	want := DeliveriesOf("lost", 0, []string{"b", "c"})
	if len(q.deliveries) != 2 || q.deliveries[0] != want[0] || q.deliveries[1] != want[1] {
		t.Fatalf("enqueued %+v, want %+v", q.deliveries, want)
	}
	if d := store.reqs["in-flight"].DueAt; d == nil || !d.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("in-flight due again at %v, want after as long as it waited", d)
	}
	store.reqs["in-flight"].DueAt = nil
	store.reqs["late"] = req("late", 50*time.Minute)
	if _, err := rec.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := store.reqs["late"].DueAt; d == nil || !d.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("late due again at %v, want when its grace ends", d)
	}
	if d := store.reqs["lost"].DueAt; d == nil || !d.Equal(now.Add(2*time.Hour)) {
		t.Fatalf("lost due again at %v, want after as long as it waited", d)
	}
}

// fixedBacklog is a dispatch queue whose oldest message has waited age.
type fixedBacklog struct {
	age   time.Duration
	since []time.Time
}

func (b *fixedBacklog) OldestMessageAge(_ context.Context, since time.Time) (time.Duration, error) {
	b.since = append(b.since, since)
	return b.age, nil
}

// Behind a backlog of the dispatch queue older than the grace, a delivery
// past its grace may still be queued: it is not enqueued again until each
// attempt could have waited as long as the backlog's oldest message, and
// then once.
func TestReconcilerDoesNotEnqueueAgainWhatABacklogStillHolds(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	triggered := now.Add(-2 * time.Hour) // past the 1 h grace
	store := newDeadlineStore(due(&PrivacyRequest{ID: "queued", Status: StatusAwaitingPreApproval, CreatedAt: triggered,
		Webhooks: []SnapshotWebhook{{Key: "b", Name: "Hook b"}},
		Activity: []ActivityEntry{{At: triggered, Kind: KindTriggered}}}, now))
	rec := newReconciler(store, 0, now, "b")
	backlog := &fixedBacklog{age: 40 * time.Minute}
	rec.Backlog, rec.DispatchAttempts = backlog, 3
	res, err := rec.Run(context.Background())
	if err != nil || res.Redelivered != 0 || len(rec.Deliveries.(*recordingQueue).deliveries) != 0 {
		t.Fatalf("behind a 40-minute backlog: %+v (%v), enqueued %v; want nothing sent again", res, err, rec.Deliveries.(*recordingQueue).deliveries)
	}
	if len(backlog.since) != 1 || !backlog.since[0].Equal(triggered) {
		t.Fatalf("backlog read since %v, want since the trigger", backlog.since)
	}
	// The grace ends 1 h + 3 × 40 min after the trigger: due again then, not before.
	if d := store.reqs["queued"].DueAt; d == nil || !d.Equal(triggered.Add(time.Hour+120*time.Minute)) {
		t.Fatalf("due again at %v, want when the grace behind the backlog ends", d)
	}
	// The backlog drained: the delivery is lost after all, and sent again once.
	backlog.age = 0
	store.reqs["queued"].DueAt = &now
	if res, err := rec.Run(context.Background()); err != nil || res.Redelivered != 1 {
		t.Fatalf("after the backlog: %+v (%v), want the delivery enqueued again", res, err)
	}
}

// A run stops StopBefore its invocation's deadline; what it did not reach
// stays due for the next run.
func TestReconcilerStopsBeforeItsDeadline(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	store := newDeadlineStore(due(&PrivacyRequest{ID: "r", Status: StatusPending, Webhooks: []SnapshotWebhook{withState("a", "A", WebhookCalled)}}, now))
	rec := newReconciler(store, 0, now, "a")
	rec.StopBefore = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := rec.Run(ctx)
	if err != nil || !res.Stopped || res.Postponed != 0 || !store.reqs["r"].DueAt.Before(now) {
		t.Fatalf("run %+v (%v): want a stop with the request still due", res, err)
	}
}

func TestBackoffAndDispatchSpan(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		waited, min, want time.Duration
	}{
		{0, time.Minute, time.Minute}, {10 * time.Minute, time.Minute, 10 * time.Minute},
		{30 * time.Hour, time.Minute, MaxReconcileBackoff}, {time.Second, 0, time.Second},
	} {
		if got := Backoff(now.Add(-tc.waited), now, tc.min).Sub(now); got != tc.want {
			t.Errorf("waited %v min %v: next in %v, want %v", tc.waited, tc.min, got, tc.want)
		}
	}
	// 5 attempts of 10 s, backoffs 5+10+20+40 s.
	if got := DispatchSpan(5, 5*time.Second, 10*time.Second); got != 125*time.Second {
		t.Errorf("DispatchSpan = %v, want 2m5s", got)
	}
	for st, want := range map[Status]bool{StatusAwaitingPreApproval: true, StatusPending: true, StatusApproved: true,
		StatusIdentityUnverified: false, StatusDenied: false, StatusPreApprovalNotEligible: false} {
		if _, got := FirstDue(st, now, time.Minute); got != want {
			t.Errorf("FirstDue(%s) due %v, want %v", st, got, want)
		}
	}
}
