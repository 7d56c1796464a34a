package gate

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"
)

// memDeadlineStore lists by (status, sort key) newest first, as the by_status
// index does, and applies changes conditionally on the status; the reply
// writes of the sweep's approvals are memReplyStore's.
type memDeadlineStore struct {
	memReplyStore
	pages   int
	onApply func(id string) // runs before the condition is checked (a racing writer)
	// onRecord runs before a reply write's condition is checked (a racing writer).
	onRecord func(id string)
}

func (m *memDeadlineStore) RecordReply(ctx context.Context, w ReplyWrite) (*PrivacyRequest, error) {
	if m.onRecord != nil {
		m.onRecord(w.ID)
	}
	return m.memReplyStore.RecordReply(ctx, w)
}

func newDeadlineStore(reqs ...*PrivacyRequest) *memDeadlineStore {
	m := &memDeadlineStore{memReplyStore: memReplyStore{reqs: map[string]*PrivacyRequest{}}}
	for _, r := range reqs {
		m.reqs[r.ID] = r
	}
	return m
}

// newSweep is a sweep over store with these webhooks configured.
func newSweep(store *memDeadlineStore, deadline time.Duration, now time.Time, configured ...string) *ReviewDeadlines {
	lister := &fakeLister{}
	for _, k := range configured {
		lister.hooks = append(lister.hooks, Webhook{Key: k, Name: "Hook " + k})
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := func() time.Time { return now }
	return &ReviewDeadlines{Store: store, Replies: &Replies{Store: store, Webhooks: lister, Now: clock, Log: log},
		Deadline: deadline, Now: clock, Log: log}
}

func (m *memDeadlineStore) List(_ context.Context, q ListQuery) ([]*PrivacyRequest, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pages++
	var hits []*PrivacyRequest
	for _, r := range m.reqs {
		if r.Status == q.Status && (q.After == "" || SortKey(r) < q.After) {
			c := *r
			hits = append(hits, &c)
		}
	}
	sort.Slice(hits, func(i, j int) bool { return SortKey(hits[i]) > SortKey(hits[j]) })
	if len(hits) <= q.Size {
		return hits, "", nil
	}
	return hits[:q.Size], SortKey(hits[q.Size-1]), nil
}

func (m *memDeadlineStore) Apply(_ context.Context, c Change) (*PrivacyRequest, error) {
	if m.onApply != nil {
		m.onApply(c.ID)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.reqs[c.ID]
	if !ok {
		return nil, NotFound(c.ID)
	}
	if r.Status != c.From {
		return nil, &ConflictError{Msg: "moved"}
	}
	r.Status, r.UpdatedAt = c.To, c.At
	r.Activity = append(r.Activity, c.Activity...)
	return r, nil
}

func TestReviewDeadlineSweep(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	hooks := func(states ...WebhookState) []SnapshotWebhook {
		var out []SnapshotWebhook
		for i, s := range states {
			out = append(out, withState(string(rune('a'+i)), "Hook "+string(rune('A'+i)), s))
		}
		return out
	}
	req := func(id string, st Status, created, triggered time.Duration, w []SnapshotWebhook) *PrivacyRequest {
		r := &PrivacyRequest{ID: id, Status: st, CreatedAt: now.Add(-created), Webhooks: w}
		if triggered >= 0 {
			r.Activity = []ActivityEntry{{At: now.Add(-triggered), Action: ActionWebhookTriggered}}
		}
		return r
	}
	store := newDeadlineStore()
	for _, r := range []*PrivacyRequest{
		req("overdue", StatusAwaitingPreApproval, 50*time.Hour, 49*time.Hour, hooks(WebhookEligible, WebhookCalled, WebhookFailed)),
		req("fresh", StatusAwaitingPreApproval, 2*time.Hour, 2*time.Hour, hooks(WebhookCalled)),
		// created long ago but verified (and triggered) only an hour ago
		req("verified-late", StatusAwaitingPreApproval, 72*time.Hour, time.Hour, hooks(WebhookCalled)),
		req("no-trigger-entry", StatusAwaitingPreApproval, 49*time.Hour, -1, hooks(WebhookPending)),
		req("decided", StatusApproved, 60*time.Hour, 60*time.Hour, hooks(WebhookEligible)),
		req("flagged", StatusPreApprovalNotEligible, 60*time.Hour, 60*time.Hour, hooks(WebhookNotEligible)),
	} {
		store.reqs[r.ID] = r
	}
	// Enough overdue requests for several pages.
	for i := range 2*sweepPageSize + 5 {
		id := "bulk-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + time.Duration(i).String()
		store.reqs[id] = req(id, StatusAwaitingPreApproval, 100*time.Hour+time.Duration(i)*time.Second, 99*time.Hour, hooks(WebhookCalled))
	}
	sweep := newSweep(store, 48*time.Hour, now, "a", "b", "c")
	res, err := sweep.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := (SweepResult{Moved: 2 + 2*sweepPageSize + 5}); res != want {
		t.Fatalf("swept %+v, want %+v", res, want)
	}
	if store.pages < 3 {
		t.Fatalf("%d list pages for %d candidates: paging not followed", store.pages, res.Moved)
	}
	for id, want := range map[string]Status{"overdue": StatusPending, "no-trigger-entry": StatusPending, "fresh": StatusAwaitingPreApproval,
		"verified-late": StatusAwaitingPreApproval, "decided": StatusApproved, "flagged": StatusPreApprovalNotEligible} {
		if got := store.reqs[id].Status; got != want {
			t.Errorf("%s: status %s, want %s", id, got, want)
		}
	}
	last := store.reqs["overdue"].Activity[len(store.reqs["overdue"].Activity)-1]
	wantMsg := "Review deadline of 48h0m0s passed with no reply from pre-approval webhooks: Hook B, Hook C"
	if last.Action != ActionStatusChanged || last.Message != wantMsg || !last.At.Equal(now) {
		t.Errorf("timeline entry %+v, want %s %q", last, ActionStatusChanged, wantMsg)
	}

	// A second sweep finds nothing more to move.
	if again, err := sweep.Sweep(context.Background()); err != nil || again != (SweepResult{}) {
		t.Fatalf("second sweep %+v (%v), want nothing", again, err)
	}
}

// A request decided between the sweep's read and its write stays decided.
func TestReviewDeadlineLosesToADecision(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := &PrivacyRequest{ID: "r", Status: StatusAwaitingPreApproval, CreatedAt: now.Add(-72 * time.Hour),
		Webhooks: []SnapshotWebhook{{Key: "a", Name: "A", Delivery: WebhookCalled}}}
	store := newDeadlineStore(r)
	store.onApply = func(id string) { store.reqs[id].Status = StatusApproved }
	res, err := newSweep(store, time.Hour, now, "a").Sweep(context.Background())
	if err != nil || res != (SweepResult{}) || r.Status != StatusApproved || len(r.Activity) != 0 {
		t.Fatalf("swept %+v (%v), status %s, activity %v: want the decision kept", res, err, r.Status, r.Activity)
	}
}

// Without a deadline nothing is moved for lateness, however old.
func TestReviewDeadlineOff(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := &PrivacyRequest{ID: "old", Status: StatusAwaitingPreApproval, CreatedAt: now.Add(-1000 * time.Hour),
		Webhooks: []SnapshotWebhook{withState("a", "Hook a", WebhookCalled)}}
	res, err := newSweep(newDeadlineStore(r), 0, now, "a").Sweep(context.Background())
	if err != nil || res != (SweepResult{}) || r.Status != StatusAwaitingPreApproval {
		t.Fatalf("deadline off: swept %+v (%v), status %s", res, err, r.Status)
	}
}

// The sweep approves, as a last reply would, the waiting requests every
// still-configured webhook of which has replied eligible, with or without a
// deadline, naming the webhook whose reply came last; it leaves the others.
func TestSweepApprovesCompleteRequests(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	eligibleAt := func(key string, ago time.Duration) SnapshotWebhook {
		w := withState(key, "Hook "+key, WebhookEligible)
		at := now.Add(-ago)
		w.RepliedAt = &at
		return w
	}
	req := func(id string, st Status, w ...SnapshotWebhook) *PrivacyRequest {
		return &PrivacyRequest{ID: id, Status: st, CreatedAt: now.Add(-time.Hour), Webhooks: w}
	}
	store := newDeadlineStore(
		// c was silent, then deleted: a and b are all that count.
		req("silent-deleted", StatusAwaitingPreApproval, eligibleAt("a", 3*time.Minute), eligibleAt("b", 2*time.Minute), withState("c", "Hook c", WebhookCalled)),
		// both replies recorded, the approval after them lost (a crash).
		req("crashed", StatusAwaitingPreApproval, eligibleAt("b", time.Minute), eligibleAt("a", 2*time.Minute)),
		// pending after c's delivery failed; c deleted since.
		req("failed-deleted", StatusPending, eligibleAt("a", time.Minute), withState("c", "Hook c", WebhookFailed)),
		req("waiting", StatusAwaitingPreApproval, eligibleAt("a", time.Minute), withState("b", "Hook b", WebhookCalled)),
		req("failed-waiting", StatusPending, eligibleAt("a", time.Minute), withState("b", "Hook b", WebhookFailed)),
		// its only eligible webhook is gone: no reply counts any more, an admin decides.
		req("all-deleted", StatusAwaitingPreApproval, eligibleAt("d", time.Minute)),
		req("no-webhooks", StatusPending),
		req("flagged", StatusPreApprovalNotEligible, eligibleAt("a", time.Minute), withState("b", "Hook b", WebhookNotEligible)),
	)
	sweep := newSweep(store, 0, now, "a", "b")
	res, err := sweep.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res != (SweepResult{Approved: 3}) {
		t.Fatalf("swept %+v, want 3 approved", res)
	}
	for id, want := range map[string]Status{"silent-deleted": StatusApproved, "crashed": StatusApproved, "failed-deleted": StatusApproved, "waiting": StatusAwaitingPreApproval,
		"failed-waiting": StatusPending, "all-deleted": StatusAwaitingPreApproval, "no-webhooks": StatusPending, "flagged": StatusPreApprovalNotEligible} {
		if got := store.reqs[id].Status; got != want {
			t.Errorf("%s: status %s, want %s", id, got, want)
		}
	}
	for id, key := range map[string]string{"silent-deleted": "b", "crashed": "b", "failed-deleted": "a"} {
		act := store.reqs[id].Activity
		if len(act) != 1 || act[0] != approvedEntry(now, key) {
			t.Errorf("%s: timeline %+v, want one auto-approval by %s", id, act, key)
		}
	}
	if again, err := sweep.Sweep(context.Background()); err != nil || again != (SweepResult{}) {
		t.Fatalf("second sweep %+v (%v), want nothing", again, err)
	}
}

// An admin's denial landing between the sweep's read and its approval stands:
// the approval is refused, re-read, and not retried on a decided request.
func TestSweepApprovalLosesToADecision(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := &PrivacyRequest{ID: "r", Status: StatusAwaitingPreApproval, CreatedAt: now.Add(-time.Hour),
		Webhooks: []SnapshotWebhook{withState("a", "Hook a", WebhookEligible), withState("b", "Hook b", WebhookCalled)}}
	store := newDeadlineStore(r)
	store.onRecord = func(id string) {
		if store.decide(id, EventDeny) {
			store.onRecord = nil
		}
	}
	res, err := newSweep(store, 0, now, "a").Sweep(context.Background())
	if err != nil || res != (SweepResult{}) || r.Status != StatusDenied || len(r.Activity) != 1 || r.Activity[0].Action != string(StatusDenied) {
		t.Fatalf("swept %+v (%v), status %s, activity %+v: want the denial kept", res, err, r.Status, r.Activity)
	}
}
