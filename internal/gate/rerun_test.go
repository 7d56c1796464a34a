package gate

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// memRequestStore is memReplyStore with Apply as the DynamoDB adapter makes
// it: conditioned on the status (and the run, for a re-run). lostAnswers
// makes that many successful Applies report a refusal, as our SDK's retry of
// a write whose response was lost meets its own result.
type memRequestStore struct {
	memReplyStore
	RequestStore // Create, List... are not used here
	lostAnswers  int
	// contended requests are refused every time, as when other writes of
	// them (or a transaction's conflicts) keep coming first.
	contended map[string]bool
}

func (m *memRequestStore) Get(ctx context.Context, id string) (*PrivacyRequest, error) {
	return m.memReplyStore.Get(ctx, id)
}

func (m *memRequestStore) Apply(_ context.Context, c Change) (*PrivacyRequest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.reqs[c.ID]
	if !ok {
		return nil, NotFound(c.ID)
	}
	if r.Status != c.From || c.Run > 0 && r.Run != c.Run-1 || m.contended[c.ID] {
		return nil, &ConflictError{Msg: "moved"}
	}
	r.Status, r.UpdatedAt = c.To, c.At
	if c.ReviewedBy != "" {
		at := c.At
		r.ReviewedAt, r.ReviewedBy = &at, c.ReviewedBy
	}
	if c.Webhooks != nil {
		r.Webhooks, r.WebhooksVersion = append([]SnapshotWebhook(nil), c.Webhooks...), c.WebhooksVersion
	}
	if c.Run > 0 {
		r.Run = c.Run
	}
	r.Activity = append(r.Activity, c.Activity...)
	m.writes++
	if m.lostAnswers > 0 {
		m.lostAnswers--
		return nil, &ConflictError{Msg: "condition failed (our own retry met our write)"}
	}
	return copyRequest(r), nil
}

var rerunNow = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

func newRerun(hooks ...string) (*Requests, *memRequestStore, *fakeLister) {
	store := &memRequestStore{memReplyStore: memReplyStore{reqs: map[string]*PrivacyRequest{}}}
	lister := &fakeLister{}
	for _, k := range hooks {
		lister.hooks = append(lister.hooks, Webhook{Key: k, Name: "Hook " + k})
	}
	tick := rerunNow
	u := &Requests{Store: store, Webhooks: lister, RequireManualApproval: true,
		Now: func() time.Time { tick = tick.Add(time.Millisecond); return tick },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return u, store, lister
}

// ids are request ids NewRequestID could have made (Requests.get checks the shape).
const (
	rerunID1 = "pri_00000000-0000-4000-8000-000000000001"
	rerunID2 = "pri_00000000-0000-4000-8000-000000000002"
	rerunID3 = "pri_00000000-0000-4000-8000-000000000003"
)

// A request whose re-run is refused on every attempt fails its item; the
// bulk goes on with the other ids instead of stopping after some were re-run.
func TestRetryPreApprovalGoesOnPastAContendedRequest(t *testing.T) {
	u, store, _ := newRerun("a")
	for _, id := range []string{rerunID1, rerunID2, rerunID3} {
		store.reqs[id] = &PrivacyRequest{ID: id, Status: StatusPending, PolicyAction: "access"}
	}
	store.contended = map[string]bool{rerunID2: true}
	res, err := u.RetryPreApproval(context.Background(), Decision{IDs: []string{rerunID1, rerunID2, rerunID3}, Actor: "admin-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Succeeded) != 2 || res.Succeeded[0].ID != rerunID1 || res.Succeeded[1].ID != rerunID3 {
		t.Fatalf("succeeded %+v", res.Succeeded)
	}
	if len(res.Failed) != 1 || res.Failed[0].Message != msgConcurrentChanges || res.Failed[0].Data["privacy_request_id"] != rerunID2 {
		t.Fatalf("failed %+v", res.Failed)
	}
	if store.reqs[rerunID2].Status != StatusPending {
		t.Fatalf("contended request moved: %+v", store.reqs[rerunID2])
	}
}

func TestRetryPreApproval(t *testing.T) {
	u, store, lister := newRerun("a", "b")
	store.reqs[rerunID1] = &PrivacyRequest{ID: rerunID1, Status: StatusPending, PolicyAction: "access",
		Webhooks: []SnapshotWebhook{{Key: "a", Name: "Hook a", Delivery: WebhookFailed, Attempts: 5}}}
	store.reqs[rerunID2] = &PrivacyRequest{ID: rerunID2, Status: StatusApproved}
	store.reqs[rerunID3] = &PrivacyRequest{ID: rerunID3, Status: StatusPending, Run: MaxPreApprovalReruns}
	ctx := context.Background()
	res, err := u.RetryPreApproval(ctx, Decision{IDs: []string{rerunID1, rerunID2, rerunID3, "pri_nope"}, Actor: "admin-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Succeeded) != 1 || res.Succeeded[0].ID != rerunID1 {
		t.Fatalf("succeeded %+v", res.Succeeded)
	}
	wantFailed := []string{
		"Cannot transition status",
		"Pre-approval was already re-run 3 times for privacy request '" + rerunID3 + "'.",
		"No privacy request found with id 'pri_nope'",
	}
	if len(res.Failed) != len(wantFailed) {
		t.Fatalf("failed %+v", res.Failed)
	}
	for i, f := range res.Failed {
		if f.Message != wantFailed[i] {
			t.Errorf("failure %d: %q, want %q", i, f.Message, wantFailed[i])
		}
	}
	r := store.reqs[rerunID1]
	if r.Status != StatusAwaitingPreApproval || r.Run != 1 || len(r.Webhooks) != 2 || r.Webhooks[0].Delivery != "" || r.Webhooks[1].Key != "b" {
		t.Fatalf("after re-run: %+v", r)
	}
	if len(r.Activity) != 2 || r.Activity[0].Action() != ActionStatusChanged || r.Activity[0].Actor != "admin-1" ||
		r.Activity[1].Action() != ActionWebhookTriggered || r.Activity[1].Message() != "Triggered pre-approval webhooks: Hook a, Hook b" {
		t.Fatalf("timeline %+v", r.Activity)
	}

	// A second re-run while awaiting fails; back in pending it passes, up to the bound.
	res, _ = u.RetryPreApproval(ctx, Decision{IDs: []string{rerunID1}, Actor: "admin-1"})
	if len(res.Failed) != 1 || res.Failed[0].Message != msgCannotTransition {
		t.Fatalf("re-run while awaiting: %+v", res)
	}
	for run := 2; run <= MaxPreApprovalReruns+1; run++ {
		store.reqs[rerunID1].Status = StatusPending
		res, _ = u.RetryPreApproval(ctx, Decision{IDs: []string{rerunID1}, Actor: "admin-1"})
		if run <= MaxPreApprovalReruns && (len(res.Succeeded) != 1 || store.reqs[rerunID1].Run != run) {
			t.Fatalf("re-run %d: %+v", run, res)
		}
		if run > MaxPreApprovalReruns && (len(res.Failed) != 1 || !strings.HasPrefix(res.Failed[0].Message, "Pre-approval was already re-run 3 times")) {
			t.Fatalf("re-run %d: %+v", run, res)
		}
	}

	// No webhook configured: nothing to re-run, the item fails.
	lister.hooks = nil
	store.reqs[rerunID2].Status = StatusPending
	res, _ = u.RetryPreApproval(ctx, Decision{IDs: []string{rerunID2}, Actor: "admin-1"})
	if len(res.Failed) != 1 || store.reqs[rerunID2].Status != StatusPending {
		t.Fatalf("no webhooks: %+v", res)
	}
	if _, err := u.RetryPreApproval(ctx, Decision{Actor: "admin-1"}); err == nil {
		t.Fatal("an empty list was accepted")
	}
}

// An admin decision or re-run whose write took effect but whose answer was
// lost is reported as done; a second decision of a decided request still fails.
func TestDecisionMeetingItsOwnWriteSucceeds(t *testing.T) {
	for _, op := range []string{"approve", "deny", "retry"} {
		t.Run(op, func(t *testing.T) {
			u, store, _ := newRerun("a")
			store.reqs[rerunID1] = &PrivacyRequest{ID: rerunID1, Status: StatusPending}
			store.lostAnswers = 1
			ctx := context.Background()
			call := map[string]func(context.Context, Decision) (BulkResult, error){
				"approve": u.Approve, "deny": u.Deny, "retry": u.RetryPreApproval}[op]
			res, err := call(ctx, Decision{IDs: []string{rerunID1}, Actor: "admin-1", Reason: "no"})
			if err != nil || len(res.Succeeded) != 1 || len(res.Failed) != 0 {
				t.Fatalf("lost answer: %+v %v", res, err)
			}
			if store.writes != 1 {
				t.Fatalf("%d writes, want 1", store.writes)
			}
			res, err = call(ctx, Decision{IDs: []string{rerunID1}, Actor: "admin-1", Reason: "no"})
			if err != nil || len(res.Failed) != 1 || res.Failed[0].Message != msgCannotTransition {
				t.Fatalf("second decision: %+v %v", res, err)
			}
		})
	}
}

// Another admin's decision met after a refused write is not taken for ours.
func TestDecisionRefusedByAnotherWriterFails(t *testing.T) {
	u, store, _ := newRerun("a")
	store.reqs[rerunID1] = &PrivacyRequest{ID: rerunID1, Status: StatusPending}
	// The other admin approves between our read and our write.
	racing := &racingStore{memRequestStore: store, before: func() {
		at := rerunNow
		store.reqs[rerunID1].Status, store.reqs[rerunID1].ReviewedAt, store.reqs[rerunID1].ReviewedBy = StatusApproved, &at, "admin-2"
		store.reqs[rerunID1].Activity = append(store.reqs[rerunID1].Activity, ActivityEntry{At: at, Kind: KindAdminApproved, Actor: "admin-2"})
	}}
	u.Store = racing
	res, err := u.Approve(context.Background(), Decision{IDs: []string{rerunID1}, Actor: "admin-1"})
	if err != nil || len(res.Failed) != 1 || res.Failed[0].Message != msgCannotTransition {
		t.Fatalf("%+v %v", res, err)
	}
}

type racingStore struct {
	*memRequestStore
	before func()
}

func (s *racingStore) Apply(ctx context.Context, c Change) (*PrivacyRequest, error) {
	if s.before != nil {
		s.before()
		s.before = nil
	}
	return s.memRequestStore.Apply(ctx, c)
}

// Replies and deliveries of an earlier run no longer count.
func TestEarlierRunNoLongerCounts(t *testing.T) {
	u, store, _, tokens := newReplies("a")
	addRequest(store, tokens, "pri_r", StatusAwaitingPreApproval, "a")
	store.reqs["pri_r"].Run = 1
	store.reqs["pri_r"].Webhooks[0].Delivery = ""
	err := u.Reply(context.Background(), "pri_r/a", "pri_r", WebhookEligible)
	var bad *BadRequestError
	if !errors.As(err, &bad) || !strings.Contains(bad.Msg, "re-run") {
		t.Fatalf("old-run reply: %v", err)
	}
	tokens["pri_r/a/1"] = ReplyClaims{WebhookKey: "a", PrivacyRequestID: "pri_r", Run: 1}
	if err := u.Reply(context.Background(), "pri_r/a/1", "pri_r", WebhookEligible); err != nil {
		t.Fatal(err)
	}
	if store.reqs["pri_r"].Status != StatusApproved {
		t.Fatalf("status %s", store.reqs["pri_r"].Status)
	}

	d, dstore, caller := newDispatchFixture(StatusAwaitingPreApproval, "", CallResult{OK: true, StatusCode: 200})
	dstore.reqs["pri_1"].Run = 1
	out, err := deliver(d, Delivery{ID: "pri_1:hook", PrivacyRequestID: "pri_1", WebhookKey: "hook"}, 1)
	if err != nil || out.Kind != OutcomeSkipped || caller.calls != 0 {
		t.Fatalf("old-run delivery: %+v %v, %d calls", out, err, caller.calls)
	}
	out, err = deliver(d, Delivery{ID: RunDeliveryID("pri_1", "hook", 1), PrivacyRequestID: "pri_1", WebhookKey: "hook", Run: 1}, 1)
	if err != nil || out.Kind != OutcomeDelivered || caller.header.Get("webhook-id") != "pri_1:hook:1" {
		t.Fatalf("new-run delivery: %+v %v, webhook-id %q", out, err, caller.header.Get("webhook-id"))
	}
}

// A reply identical to the one recorded answers success whatever the status
// now is (the validator SDK's retry after a lost response); a different one is refused.
func TestRepeatedReplyAfterTheDecision(t *testing.T) {
	u, store, _, tokens := newReplies("a", "b")
	addRequest(store, tokens, "pri_x", StatusAwaitingPreApproval, "a", "b")
	ctx := context.Background()
	if err := u.Reply(ctx, "pri_x/a", "pri_x", WebhookEligible); err != nil {
		t.Fatal(err)
	}
	if err := u.Reply(ctx, "pri_x/b", "pri_x", WebhookNotEligible); err != nil {
		t.Fatal(err)
	}
	store.decide("pri_x", EventApprove)
	for _, c := range []struct {
		key    string
		answer WebhookState
		ok     bool
	}{{"a", WebhookEligible, true}, {"b", WebhookNotEligible, true}, {"a", WebhookNotEligible, false}, {"b", WebhookEligible, false}} {
		err := u.Reply(ctx, "pri_x/"+c.key, "pri_x", c.answer)
		var bad *BadRequestError
		if c.ok && err != nil || !c.ok && !errors.As(err, &bad) {
			t.Errorf("reply %s %s on an approved request: %v", c.key, c.answer, err)
		}
	}
	if store.reqs["pri_x"].Status != StatusApproved {
		t.Fatalf("status %s", store.reqs["pri_x"].Status)
	}
}

// The last reply approves without a webhook removed from the configuration,
// and the approval's write records the removal on the timeline.
func TestApprovalByReplyRecordsRemovedWebhooks(t *testing.T) {
	u, store, lister, tokens := newReplies("a", "b")
	addRequest(store, tokens, "pri_rm", StatusAwaitingPreApproval, "a", "b")
	lister.remove("b")
	if err := u.Reply(context.Background(), "pri_rm/a", "pri_rm", WebhookEligible); err != nil {
		t.Fatal(err)
	}
	r := store.reqs["pri_rm"]
	want := []string{ActionEligible, ActionWebhookRemoved, ActionApproved}
	if r.Status != StatusApproved || len(r.Activity) != len(want) || store.writes != 1 {
		t.Fatalf("status %s, %d writes, timeline %+v", r.Status, store.writes, r.Activity)
	}
	for i, a := range want {
		if r.Activity[i].Action() != a {
			t.Fatalf("timeline %+v, want actions %v", r.Activity, want)
		}
	}
	if m := r.Activity[1].Message(); m != "Pre-approval webhook 'Hook b' was removed from the configuration and is no longer awaited" || r.Activity[1].WebhookKey() != "b" {
		t.Fatalf("removed entry %+v", r.Activity[1])
	}
}
