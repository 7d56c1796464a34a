package gate

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// memDeadlineStore is the due index in memory: the requests with a DueAt,
// oldest due first. Writes keep DueAt as the requests table does (a move
// into a due status sets it to the write's time plus dueGrace); the reply
// writes of the reconciler's approvals are memReplyStore's.
type memDeadlineStore struct {
	memReplyStore
	pages   int
	onApply func(id string) // runs before the condition is checked (a racing writer)
	// onRecord runs before a reply write's condition is checked (a racing writer).
	onRecord func(id string)
	failGet  map[string]bool // a poisoned request: its read fails
	// onClaim runs before a publish claim's condition is checked (a racing publisher).
	onClaim func(id string)
}

const dueGrace = time.Minute

func (m *memDeadlineStore) RecordReply(ctx context.Context, w ReplyWrite) (*PrivacyRequest, error) {
	if m.onRecord != nil {
		m.onRecord(w.ID)
	}
	r, err := m.memReplyStore.RecordReply(ctx, w)
	if err == nil && w.To != "" {
		m.mu.Lock()
		m.reqs[w.ID].DueAt = dueOf(w.To, w.At)
		m.mu.Unlock()
	}
	return r, err
}

func dueOf(st Status, at time.Time) *time.Time {
	if due, ok := FirstDue(st, at, dueGrace); ok {
		return &due
	}
	return nil
}

func (m *memDeadlineStore) Get(ctx context.Context, id string) (*PrivacyRequest, error) {
	if m.failGet[id] {
		return nil, errors.New("poisoned")
	}
	return m.memReplyStore.Get(ctx, id)
}

func newDeadlineStore(reqs ...*PrivacyRequest) *memDeadlineStore {
	m := &memDeadlineStore{memReplyStore: memReplyStore{reqs: map[string]*PrivacyRequest{}}}
	for _, r := range reqs {
		m.reqs[r.ID] = r
	}
	return m
}

// recordingQueue records enqueued deliveries and published approvals.
type recordingQueue struct {
	mu         sync.Mutex
	deliveries []Delivery
	approved   []ApprovedMessage
}

func (q *recordingQueue) EnqueueDeliveries(_ context.Context, ds []Delivery) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.deliveries = append(q.deliveries, ds...)
	return nil
}

func (q *recordingQueue) PublishApproved(_ context.Context, m ApprovedMessage) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.approved = append(q.approved, m)
	return nil
}

// newReconciler is a reconciler over store with these webhooks configured.
func newReconciler(store *memDeadlineStore, deadline time.Duration, now time.Time, configured ...string) *Reconciler {
	lister := &fakeLister{}
	for _, k := range configured {
		lister.hooks = append(lister.hooks, Webhook{Key: k, Name: "Hook " + k})
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := func() time.Time { return now }
	q := &recordingQueue{}
	return &Reconciler{Store: store, Replies: &Replies{Store: store, Webhooks: lister, Now: clock, Log: log},
		Publisher: &Publisher{Store: store, Queue: q, Now: clock, Log: log}, Deliveries: q,
		Deadline: deadline, DispatchGrace: time.Hour, MinBackoff: dueGrace, Now: clock, Log: log}
}

func (m *memDeadlineStore) Due(_ context.Context, now time.Time, after string, limit int) ([]DueEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pages++
	var hits []DueEntry
	for _, r := range m.reqs {
		if r.DueAt == nil || r.DueAt.After(now) {
			continue
		}
		e := DueEntry{ID: r.ID, DueAt: *r.DueAt, Key: FormatTime(*r.DueAt) + "#" + r.ID}
		if e.Key > after {
			hits = append(hits, e)
		}
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].Key < hits[j].Key })
	return hits[:min(limit, len(hits))], nil
}

func (m *memDeadlineStore) Postpone(_ context.Context, id string, st Status, from time.Time, to *time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.reqs[id]
	if !ok || r.Status != st || r.DueAt == nil || !r.DueAt.Equal(from) {
		return &ConflictError{Msg: "moved"}
	}
	r.DueAt = to
	return nil
}

func (m *memDeadlineStore) MarkPublished(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.reqs[id]
	if !ok || r.Status != StatusApproved || r.PublishedAt != nil {
		return &ConflictError{Msg: "marked"}
	}
	r.PublishedAt, r.DueAt, r.Publishing = &at, nil, nil
	return nil
}

// ClaimPublish is the requests table's conditional claim: approved, not
// marked, and unclaimed, claimed by the same token or past its claim.
func (m *memDeadlineStore) ClaimPublish(_ context.Context, id string, c PublishClaim, now time.Time) error {
	if m.onClaim != nil {
		m.onClaim(id)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.reqs[id]
	if !ok || r.Status != StatusApproved || r.PublishedAt != nil ||
		r.Publishing != nil && r.Publishing.Token != c.Token && r.Publishing.Until.After(now) {
		return &ConflictError{Msg: "not claimable"}
	}
	claim, until := c, c.Until
	r.Publishing, r.DueAt = &claim, &until
	return nil
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
	r.Status, r.UpdatedAt, r.DueAt = c.To, c.At, dueOf(c.To, c.At)
	r.Activity = append(r.Activity, c.Activity...)
	return r, nil
}

// due makes r due a minute before now, as the index would hold it.
func due(r *PrivacyRequest, now time.Time) *PrivacyRequest {
	at := now.Add(-time.Minute)
	r.DueAt = &at
	return r
}

// The reconciler moves the overdue awaiting requests to pending, in batches
// of its index reads, and backs off those still within the deadline.
func TestReconcilerReviewDeadline(t *testing.T) {
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
			r.Activity = []ActivityEntry{{At: now.Add(-triggered), Kind: KindTriggered}}
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
	} {
		store.reqs[r.ID] = due(r, now)
	}
	// Not due: not in the index.
	store.reqs["decided"] = req("decided", StatusApproved, 60*time.Hour, 60*time.Hour, hooks(WebhookEligible))
	store.reqs["flagged"] = req("flagged", StatusPreApprovalNotEligible, 60*time.Hour, 60*time.Hour, hooks(WebhookNotEligible))
	// Enough overdue requests for several pages.
	const batch = 100
	for i := range 2*batch + 5 {
		id := "bulk-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + time.Duration(i).String()
		store.reqs[id] = due(req(id, StatusAwaitingPreApproval, 100*time.Hour+time.Duration(i)*time.Second, 99*time.Hour, hooks(WebhookCalled)), now)
	}
	rec := newReconciler(store, 48*time.Hour, now, "a", "b", "c")
	res, err := rec.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := (ReconcileResult{Moved: 2 + 2*batch + 5, Postponed: 2}); res != want {
		t.Fatalf("swept %+v, want %+v", res, want)
	}
	// fresh: triggered 2 h ago, so looked at again in 2 h; verified-late in 1 h.
	if d := store.reqs["fresh"].DueAt; d == nil || !d.Equal(now.Add(2*time.Hour)) {
		t.Errorf("fresh is due again at %v, want %v", d, now.Add(2*time.Hour))
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
	if last.Action() != ActionStatusChanged || last.Message() != wantMsg || !last.At.Equal(now) {
		t.Errorf("timeline entry %+v, want %s %q", last, ActionStatusChanged, wantMsg)
	}

	// A second run finds nothing due.
	if again, err := rec.Run(context.Background()); err != nil || again != (ReconcileResult{}) {
		t.Fatalf("second run %+v (%v), want nothing", again, err)
	}
}

// A request decided between the reconciler's read and its write stays decided.
func TestReviewDeadlineLosesToADecision(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := &PrivacyRequest{ID: "r", Status: StatusAwaitingPreApproval, CreatedAt: now.Add(-72 * time.Hour),
		Webhooks: []SnapshotWebhook{{Key: "a", Name: "A", Delivery: WebhookCalled}}}
	store := newDeadlineStore(due(r, now))
	store.onApply = func(id string) { store.reqs[id].Status = StatusApproved }
	res, err := newReconciler(store, time.Hour, now, "a").Run(context.Background())
	if err != nil || res != (ReconcileResult{}) || r.Status != StatusApproved || len(r.Activity) != 0 {
		t.Fatalf("swept %+v (%v), status %s, activity %v: want the decision kept", res, err, r.Status, r.Activity)
	}
}

// Without a deadline nothing is moved for lateness, however old.
func TestReviewDeadlineOff(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := &PrivacyRequest{ID: "old", Status: StatusAwaitingPreApproval, CreatedAt: now.Add(-1000 * time.Hour),
		Webhooks: []SnapshotWebhook{withState("a", "Hook a", WebhookCalled)}}
	res, err := newReconciler(newDeadlineStore(due(r, now)), 0, now, "a").Run(context.Background())
	if err != nil || res != (ReconcileResult{Postponed: 1}) || r.Status != StatusAwaitingPreApproval {
		t.Fatalf("deadline off: swept %+v (%v), status %s", res, err, r.Status)
	}
}

// The reconciler approves, as a last reply would, the waiting requests every
// still-configured webhook of which has replied eligible, with or without a
// deadline, naming the webhook whose reply came last; it leaves the others.
func TestReconcilerApprovesCompleteRequests(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	eligibleAt := func(key string, ago time.Duration) SnapshotWebhook {
		w := withState(key, "Hook "+key, WebhookEligible)
		at := now.Add(-ago)
		w.RepliedAt = &at
		return w
	}
	req := func(id string, st Status, w ...SnapshotWebhook) *PrivacyRequest {
		return due(&PrivacyRequest{ID: id, Status: st, CreatedAt: now.Add(-time.Hour), Webhooks: w}, now)
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
	store.reqs["flagged"].DueAt = nil // not due: not in the index
	rec := newReconciler(store, 0, now, "a", "b")
	res, err := rec.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// waiting, failed-waiting and all-deleted back off; no-webhooks leaves the index.
	if res != (ReconcileResult{Approved: 3, Postponed: 4}) {
		t.Fatalf("swept %+v, want 3 approved, 4 postponed", res)
	}
	for id, want := range map[string]Status{"silent-deleted": StatusApproved, "crashed": StatusApproved, "failed-deleted": StatusApproved, "waiting": StatusAwaitingPreApproval,
		"failed-waiting": StatusPending, "all-deleted": StatusAwaitingPreApproval, "no-webhooks": StatusPending, "flagged": StatusPreApprovalNotEligible} {
		if got := store.reqs[id].Status; got != want {
			t.Errorf("%s: status %s, want %s", id, got, want)
		}
	}
	// An approval without a removed webhook of the snapshot says so, in the same write.
	removedC := line{ActionWebhookRemoved, "Pre-approval webhook 'Hook c' was removed from the configuration and is no longer awaited", "c"}
	approvedBy := func(key string) line {
		return line{ActionApproved, "Request auto-approved by pre-approval webhooks", key}
	}
	for id, want := range map[string][]line{"silent-deleted": {removedC, approvedBy("b")},
		"crashed": {approvedBy("b")}, "failed-deleted": {removedC, approvedBy("a")}} {
		act := store.reqs[id].Activity
		if len(act) != len(want) || lineOf(act[len(act)-1]) != want[len(want)-1] || lineOf(act[0]) != want[0] || !act[0].At.Equal(now) {
			t.Errorf("%s: timeline %+v, want %+v", id, act, want)
		}
	}
	if again, err := rec.Run(context.Background()); err != nil || again != (ReconcileResult{}) {
		t.Fatalf("second run %+v (%v), want nothing", again, err)
	}
}

// An admin's denial landing between the reconciler's read and its approval stands:
// the approval is refused, re-read, and not retried on a decided request.
func TestReconcilerApprovalLosesToADecision(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := &PrivacyRequest{ID: "r", Status: StatusAwaitingPreApproval, CreatedAt: now.Add(-time.Hour),
		Webhooks: []SnapshotWebhook{withState("a", "Hook a", WebhookEligible), withState("b", "Hook b", WebhookCalled)}}
	store := newDeadlineStore(due(r, now))
	store.onRecord = func(id string) {
		if store.decide(id, EventDeny) {
			store.onRecord = nil
		}
	}
	res, err := newReconciler(store, 0, now, "a").Run(context.Background())
	if err != nil || res != (ReconcileResult{}) || r.Status != StatusDenied || len(r.Activity) != 1 || r.Activity[0].Action() != string(StatusDenied) {
		t.Fatalf("swept %+v (%v), status %s, activity %+v: want the denial kept", res, err, r.Status, r.Activity)
	}
}

// The reconciler's approval rests on the configuration as it is when the
// write happens, not as it was when the run began: a webhook of the snapshot
// configured again meanwhile, whose delivery failed, keeps the request pending.
func TestReconcilerApprovalReadsTheConfigurationAtTheWrite(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := due(&PrivacyRequest{ID: "r", Status: StatusPending, CreatedAt: now.Add(-time.Hour),
		Webhooks: []SnapshotWebhook{withState("a", "Hook a", WebhookEligible), withState("c", "Hook c", WebhookFailed)}}, now)
	inner := newDeadlineStore(r)
	rec := newReconciler(inner, 0, now, "a")
	lister := rec.Replies.Webhooks.(*fakeLister)
	store := &getHookStore{memDeadlineStore: inner, onGet: func() { // c is configured again while the run reads r
		lister.mu.Lock()
		lister.hooks = append(lister.hooks, Webhook{Key: "c", Name: "Hook c"})
		lister.mu.Unlock()
	}}
	rec.Store = store
	res, err := rec.Run(context.Background())
	if err != nil || res.Approved != 0 || r.Status != StatusPending {
		t.Fatalf("swept %+v (%v), status %s: want it left pending", res, err, r.Status)
	}
}

type getHookStore struct {
	*memDeadlineStore
	onGet func()
}

func (s *getHookStore) Get(ctx context.Context, id string) (*PrivacyRequest, error) {
	if s.onGet != nil {
		s.onGet()
		s.onGet = nil
	}
	return s.memDeadlineStore.Get(ctx, id)
}
