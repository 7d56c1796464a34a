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
// index does, and applies changes conditionally on the status.
type memDeadlineStore struct {
	reqs    map[string]*PrivacyRequest
	pages   int
	onApply func(id string) // runs before the condition is checked (a racing writer)
}

func (m *memDeadlineStore) List(_ context.Context, q ListQuery) ([]*PrivacyRequest, string, error) {
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
	store := &memDeadlineStore{reqs: map[string]*PrivacyRequest{}}
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
	sweep := &ReviewDeadlines{Store: store, Deadline: 48 * time.Hour, Now: func() time.Time { return now },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	moved, err := sweep.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 + 2*sweepPageSize + 5; moved != want {
		t.Fatalf("moved %d, want %d", moved, want)
	}
	if store.pages < 3 {
		t.Fatalf("%d list pages for %d candidates: paging not followed", store.pages, moved)
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
	if again, err := sweep.Sweep(context.Background()); err != nil || again != 0 {
		t.Fatalf("second sweep moved %d (%v), want 0", again, err)
	}
}

// A request decided between the sweep's read and its write stays decided.
func TestReviewDeadlineLosesToADecision(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := &PrivacyRequest{ID: "r", Status: StatusAwaitingPreApproval, CreatedAt: now.Add(-72 * time.Hour),
		Webhooks: []SnapshotWebhook{{Key: "a", Name: "A", Delivery: WebhookCalled}}}
	store := &memDeadlineStore{reqs: map[string]*PrivacyRequest{"r": r}}
	store.onApply = func(id string) { store.reqs[id].Status = StatusApproved }
	sweep := &ReviewDeadlines{Store: store, Deadline: time.Hour, Now: func() time.Time { return now },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	moved, err := sweep.Sweep(context.Background())
	if err != nil || moved != 0 || r.Status != StatusApproved || len(r.Activity) != 0 {
		t.Fatalf("moved %d (%v), status %s, activity %v: want the decision kept", moved, err, r.Status, r.Activity)
	}
}

func TestReviewDeadlineOff(t *testing.T) {
	store := &memDeadlineStore{reqs: map[string]*PrivacyRequest{}}
	sweep := &ReviewDeadlines{Store: store, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if moved, err := sweep.Sweep(context.Background()); moved != 0 || err != nil || store.pages != 0 {
		t.Fatalf("deadline off: moved %d, %v, %d queries", moved, err, store.pages)
	}
}
