package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memReplyStore is the in-memory request store the domain tests run on. Its
// writes hold the conditions docs/internals/storage.md gives the DynamoDB ones.
type memReplyStore struct {
	mu     sync.Mutex
	reqs   map[string]*PrivacyRequest
	gets   int
	writes int // successful writes
}

func copyRequest(r *PrivacyRequest) *PrivacyRequest {
	cp := *r
	cp.Webhooks = append([]SnapshotWebhook(nil), r.Webhooks...)
	cp.Activity = append([]ActivityEntry(nil), r.Activity...)
	return &cp
}

func (m *memReplyStore) Get(_ context.Context, id string) (*PrivacyRequest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gets++
	r, ok := m.reqs[id]
	if !ok {
		return nil, NotFound(id)
	}
	return copyRequest(r), nil
}

func (m *memReplyStore) RecordReply(_ context.Context, w ReplyWrite) (*PrivacyRequest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.reqs[w.ID]
	refused := &ConflictError{Msg: "condition failed"}
	if !ok || !w.Shadow && r.Status != StatusPending && r.Status != StatusAwaitingPreApproval {
		return nil, refused
	}
	if p := w.Reply; p != nil && (r.Webhooks[p.Index].Key != p.Key || r.Webhooks[p.Index].Reply != "") {
		return nil, refused
	}
	if w.To == StatusApproved {
		for _, j := range w.Eligible {
			if r.Webhooks[j].Reply != WebhookEligible {
				return nil, refused
			}
		}
	}
	if p := w.Reply; p != nil {
		at := w.At
		r.Webhooks[p.Index].Reply, r.Webhooks[p.Index].RepliedAt = p.Answer, &at
	}
	if w.To != "" {
		r.Status = w.To
	}
	r.Activity = append(r.Activity, w.Activity...)
	m.writes++
	return copyRequest(r), nil
}

// decide plays an admin decision: conditioned on the status, bumping the version.
func (m *memReplyStore) decide(id string, ev Event) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.reqs[id]
	to, err := Next(r.Status, ev)
	if err != nil {
		return false
	}
	r.Status = to
	r.Activity = append(r.Activity, ActivityEntry{Kind: map[Status]ActivityKind{StatusApproved: KindAdminApproved, StatusDenied: KindAdminDenied}[to]})
	return true
}

type fakeTokens map[string]ReplyClaims // token -> claims; "expired" -> expired

// errNoKeySet is the verifier's own failure: it has no key set to check with.
var errNoKeySet = errors.New("reply-token key set not read yet")

func (f fakeTokens) VerifyReply(token string) (ReplyClaims, error) {
	switch token {
	case "expired":
		return ReplyClaims{}, fmt.Errorf("exp: %w", ErrReplyTokenExpired)
	case "unverifiable":
		return ReplyClaims{}, errNoKeySet
	}
	c, ok := f[token]
	if !ok {
		return ReplyClaims{}, ErrReplyTokenInvalid
	}
	return c, nil
}

type fakeLister struct {
	mu      sync.Mutex
	hooks   []Webhook
	version int64
	since   []int64 // the versions WebhooksSince was asked for
}

func (f *fakeLister) ListWebhooks(context.Context) (WebhookConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return WebhookConfig{Version: f.version, Webhooks: append([]Webhook(nil), f.hooks...)}, nil
}

func (f *fakeLister) WebhooksSince(_ context.Context, since int64) ([]Webhook, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.since = append(f.since, since)
	return append([]Webhook(nil), f.hooks...), nil
}

func (f *fakeLister) remove(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, h := range f.hooks {
		if h.Key == key {
			f.hooks = append(f.hooks[:i], f.hooks[i+1:]...)
			return
		}
	}
}

func newReplies(keys ...string) (*Replies, *memReplyStore, *fakeLister, fakeTokens) {
	store := &memReplyStore{reqs: map[string]*PrivacyRequest{}}
	lister := &fakeLister{}
	tokens := fakeTokens{}
	for _, k := range keys {
		lister.hooks = append(lister.hooks, Webhook{Key: k, Name: "Hook " + k})
	}
	u := &Replies{Store: store, Webhooks: lister, Tokens: tokens, Now: func() time.Time { return time.Unix(1_800_000_000, 0) },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return u, store, lister, tokens
}

func addRequest(store *memReplyStore, tokens fakeTokens, id string, status Status, keys ...string) {
	r := &PrivacyRequest{ID: id, Status: status}
	for _, k := range keys {
		r.Webhooks = append(r.Webhooks, SnapshotWebhook{Key: k, Name: "Hook " + k, Delivery: WebhookCalled})
		tokens[id+"/"+k] = ReplyClaims{WebhookKey: k, PrivacyRequestID: id}
	}
	store.reqs[id] = r
}

// A submission's snapshot records the configuration's version, and every
// read a reply decides on asks for that version or later.
func TestRepliesReadTheConfigurationAsOfTheSnapshot(t *testing.T) {
	reqs, store, lister := newRerun("a", "b")
	store.reqs[rerunID1] = &PrivacyRequest{ID: rerunID1, Status: StatusPending, PolicyAction: "access"}
	lister.version = 7
	ctx := context.Background()
	res, err := reqs.RetryPreApproval(ctx, Decision{IDs: []string{rerunID1}, Actor: "admin"})
	if err != nil || len(res.Succeeded) != 1 || res.Succeeded[0].WebhooksVersion != 7 {
		t.Fatalf("re-run %+v (%v), want the snapshot of version 7", res, err)
	}
	lister.version = 8 // changed since: replies may read 7 or later, never earlier
	tokens := fakeTokens{}
	u := &Replies{Store: store, Webhooks: lister, Tokens: tokens, Now: reqs.Now, Log: reqs.Log}
	for _, k := range []string{"a", "b"} {
		tokens[k] = ReplyClaims{WebhookKey: k, PrivacyRequestID: rerunID1, Run: 1}
		if err := u.Reply(ctx, k, rerunID1, WebhookEligible); err != nil {
			t.Fatal(err)
		}
	}
	if r, _ := store.Get(ctx, rerunID1); r.Status != StatusApproved || len(lister.since) == 0 {
		t.Fatalf("status %s after %d reads", r.Status, len(lister.since))
	}
	for _, v := range lister.since {
		if v != 7 {
			t.Fatalf("replies read the configuration as of %v, want 7", lister.since)
		}
	}
}

func TestReplyChecksInOrder(t *testing.T) {
	u, store, _, tokens := newReplies("a", "b")
	addRequest(store, tokens, "pri_1", StatusAwaitingPreApproval, "a", "b")
	addRequest(store, tokens, "pri_denied", StatusDenied, "a")
	tokens["ghost"] = ReplyClaims{WebhookKey: "gone", PrivacyRequestID: "pri_1"}
	tokens["nosuch"] = ReplyClaims{WebhookKey: "a", PrivacyRequestID: "pri_missing"}
	ctx := context.Background()
	cases := []struct {
		name, token, id string
		answer          WebhookState
		want            error
	}{
		{"garbage token", "garbage", "pri_1", WebhookEligible, &ForbiddenError{Msg: "Not Authorized for this action"}},
		{"expired", "expired", "pri_1", WebhookEligible, &ForbiddenError{Msg: "Webhook token expired"}},
		{"other request's token", "pri_1/a", "pri_2", WebhookEligible, &ForbiddenError{Msg: "Not Authorized for this action"}},
		{"webhook deleted", "ghost", "pri_1", WebhookEligible, &NotFoundError{Msg: "No Pre-Approval Webhook found with id 'gone'."}},
		{"request missing", "nosuch", "pri_missing", WebhookEligible, &NotFoundError{Msg: "No privacy request found with id: 'pri_missing'."}},
		{"decided request", "pri_denied/a", "pri_denied", WebhookEligible, &BadRequestError{Msg: "Privacy request with id 'pri_denied' is not in pending or awaiting pre-approval status."}},
		{"first eligible", "pri_1/a", "pri_1", WebhookEligible, nil},
		{"same answer again", "pri_1/a", "pri_1", WebhookEligible, nil},
		{"different answer", "pri_1/a", "pri_1", WebhookNotEligible, &BadRequestError{Msg: "Pre-approval webhook 'a' already replied for privacy request 'pri_1'."}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := u.Reply(ctx, c.token, c.id, c.answer)
			if fmt.Sprintf("%T %v", err, err) != fmt.Sprintf("%T %v", c.want, c.want) {
				t.Fatalf("got %T %v, want %T %v", err, err, c.want, c.want)
			}
		})
	}
	// A token that cannot be checked for a reason of ours is not refused
	// (a 403 is final to a validator): the error is ours, a 5xx it retries.
	if err := u.Reply(ctx, "unverifiable", "pri_1", WebhookEligible); !errors.Is(err, errNoKeySet) {
		t.Fatalf("verifier's own failure: %T %v, want it passed on", err, err)
	}
	r, _ := store.Get(ctx, "pri_1")
	if r.Status != StatusAwaitingPreApproval || r.Webhooks[0].State() != WebhookEligible || store.writes != 1 {
		t.Fatalf("after one eligible of two: %+v", r)
	}
	if err := u.Reply(ctx, "pri_1/b", "pri_1", WebhookEligible); err != nil {
		t.Fatal(err)
	}
	r, _ = store.Get(ctx, "pri_1")
	last := r.Activity[len(r.Activity)-1]
	if r.Status != StatusApproved || last.Action() != ActionApproved || last.Message() != "Request auto-approved by pre-approval webhooks" || last.WebhookKey() != "b" || last.Actor != "" {
		t.Fatalf("after all eligible: status %s, last entry %+v", r.Status, last)
	}
}

func TestNotEligibleFlagsForReviewAndDeletedWebhooksDoNotCount(t *testing.T) {
	u, store, lister, tokens := newReplies("a", "b", "c")
	ctx := context.Background()
	addRequest(store, tokens, "pri_ne", StatusPending, "a", "b")
	if err := u.Reply(ctx, "pri_ne/b", "pri_ne", WebhookNotEligible); err != nil {
		t.Fatal(err)
	}
	r, _ := store.Get(ctx, "pri_ne")
	if r.Status != StatusPreApprovalNotEligible || r.Activity[0].Message() != "Request flagged for manual review by pre-approval webhooks. Webhook 'Hook b' responded: not eligible" {
		t.Fatalf("not eligible: %s %+v", r.Status, r.Activity)
	}
	addRequest(store, tokens, "pri_del", StatusAwaitingPreApproval, "a", "c")
	lister.remove("c")
	if err := u.Reply(ctx, "pri_del/a", "pri_del", WebhookEligible); err != nil {
		t.Fatal(err)
	}
	if r, _ := store.Get(ctx, "pri_del"); r.Status != StatusApproved {
		t.Fatalf("the only webhook still configured replied eligible, status %s", r.Status)
	}
}

// model is the reference the property test holds the aggregator and the
// dispatcher's recording to: the rules of the lifecycle, the reply checks and delivery written as plainly
// as possible.
type model struct {
	status     Status
	delivery   map[string]WebhookState
	reply      map[string]WebhookState
	configured map[string]bool
}

func (m *model) state(key string) WebhookState {
	return SnapshotWebhook{Delivery: m.delivery[key], Reply: m.reply[key]}.State()
}

func (m *model) replyTo(key string, a WebhookState) bool {
	if !m.configured[key] {
		return false
	}
	if m.reply[key] == a && m.status != StatusPending && m.status != StatusAwaitingPreApproval {
		return true // an idempotent repeat, whatever the status now is
	}
	if m.status != StatusPending && m.status != StatusAwaitingPreApproval {
		return false
	}
	if s := m.reply[key]; s != "" && s != a {
		return false
	}
	m.reply[key] = a
	if a == WebhookNotEligible {
		m.status = StatusPreApprovalNotEligible
		return true
	}
	// A repeated eligible reply also completes the set: it finishes an
	// approval that its first delivery recorded but could not make.
	for k, c := range m.configured {
		if c && m.reply[k] != WebhookEligible {
			return true
		}
	}
	m.status = StatusApproved
	return true
}

// deliver is one delivery of key ending called (ok) or failed for good.
func (m *model) deliver(key string, ok bool) {
	switch {
	case m.status != StatusAwaitingPreApproval && m.status != StatusPending && m.status != StatusPreApprovalNotEligible,
		!m.configured[key], m.delivery[key] != "", m.reply[key] != "":
		return // skipped, no call
	case ok:
		m.delivery[key] = WebhookCalled
	default:
		m.delivery[key] = WebhookFailed
		if m.status == StatusAwaitingPreApproval {
			m.status = StatusPending
		}
	}
}

func TestAggregatorMatchesReferenceModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"a", "b", "c", "d"}
	for round := range 2000 {
		u, store, lister, tokens := newReplies(keys...)
		n := 1 + rng.IntN(len(keys))
		start := StatusAwaitingPreApproval
		if rng.IntN(4) == 0 {
			start = StatusPending
		}
		addRequest(store, tokens, "pri_p", start, keys[:n]...)
		m := &model{status: start, delivery: map[string]WebhookState{}, reply: map[string]WebhookState{}, configured: map[string]bool{}}
		for i, k := range keys[:n] {
			m.configured[k] = true
			if rng.IntN(2) == 0 { // not delivered yet
				store.reqs["pri_p"].Webhooks[i].Delivery = ""
			} else {
				m.delivery[k] = WebhookCalled
			}
		}
		caller := &fakeCaller{}
		d := &Dispatcher{Store: store, Caller: caller, Tokens: fakeMinter{}, Targets: listerTargets{lister}, MaxAttempts: 1,
			Now: u.Now, Log: u.Log}
		var trace []string
		for step := range 12 {
			k := keys[rng.IntN(n)]
			switch op := rng.IntN(12); {
			case op < 7:
				a := WebhookEligible
				if rng.IntN(4) == 0 {
					a = WebhookNotEligible
				}
				trace = append(trace, fmt.Sprintf("reply %s %s", k, a))
				wantOK := m.replyTo(k, a)
				err := u.Reply(context.Background(), "pri_p/"+k, "pri_p", a)
				if (err == nil) != wantOK {
					t.Fatalf("round %d step %d: %v: got err %v, model says ok=%v", round, step, trace, err, wantOK)
				}
			case op < 9:
				ok := op == 7
				trace = append(trace, fmt.Sprintf("deliver %s ok=%v", k, ok))
				caller.res = CallResult{OK: ok, StatusCode: 200}
				if !ok {
					caller.res = CallResult{StatusCode: 410, Reason: "HTTP 410"}
				}
				m.deliver(k, ok)
				if _, err := deliver(d, Delivery{ID: "pri_p:" + k, PrivacyRequestID: "pri_p", WebhookKey: k}, 1); err != nil {
					t.Fatalf("round %d: %v: %v", round, trace, err)
				}
			case op < 10:
				trace = append(trace, "delete "+k)
				lister.remove(k)
				m.configured[k] = false
			default:
				ev := EventApprove
				if op == 11 {
					ev = EventDeny
				}
				trace = append(trace, "admin "+string(ev))
				if to, err := Next(m.status, ev); err == nil {
					m.status = to
				}
				store.decide("pri_p", ev)
			}
			r, _ := store.Get(context.Background(), "pri_p")
			if r.Status != m.status {
				t.Fatalf("round %d: %v: status %s, model %s", round, trace, r.Status, m.status)
			}
			for _, w := range r.Webhooks {
				if w.State() != m.state(w.Key) || w.Delivery != m.delivery[w.Key] {
					t.Fatalf("round %d: %v: webhook %s %+v, model %s", round, trace, w.Key, w, m.state(w.Key))
				}
			}
		}
	}
}

// listerTargets gives every configured webhook a target.
type listerTargets struct{ l *fakeLister }

func (f listerTargets) DeliveryTargets(ctx context.Context, keys []string) map[string]TargetResult {
	hooks, _ := f.l.WebhooksSince(ctx, 0)
	out := map[string]TargetResult{}
	for _, k := range keys {
		out[k] = TargetResult{Err: &NotFoundError{Msg: "gone"}}
		for _, h := range hooks {
			if h.Key == k {
				out[k] = TargetResult{Target: DeliveryTarget{Webhook: h, URL: "https://v.example"}}
			}
		}
	}
	return out
}

// Concurrent replies and admin decisions on one request: decided once, no
// reply that was acknowledged is lost.
func TestConcurrentRepliesDecideOnce(t *testing.T) {
	keys := []string{"a", "b", "c", "d", "e"}
	for round := range 200 {
		u, store, _, tokens := newReplies(keys...)
		addRequest(store, tokens, "pri_c", StatusAwaitingPreApproval, keys...)
		var wg sync.WaitGroup
		acked := make([]atomic.Bool, len(keys))
		for i, k := range keys {
			for range 2 { // every reply sent twice
				wg.Add(1)
				go func() {
					defer wg.Done()
					if u.Reply(context.Background(), "pri_c/"+k, "pri_c", WebhookEligible) == nil {
						acked[i].Store(true)
					}
				}()
			}
		}
		adminDecided := false
		if round%10 == 0 {
			wg.Add(1)
			go func() { defer wg.Done(); adminDecided = store.decide("pri_c", EventDeny) }()
		}
		wg.Wait()
		r, _ := store.Get(context.Background(), "pri_c")
		decisions := 0
		for _, e := range r.Activity {
			if e.Action() == ActionApproved || e.Action() == string(StatusDenied) {
				decisions++
			}
		}
		if decisions != 1 {
			t.Fatalf("round %d: %d decisions in %+v", round, decisions, r.Activity)
		}
		for i, k := range keys {
			if acked[i].Load() && r.Webhooks[i].State() != WebhookEligible {
				t.Fatalf("round %d: reply of %s acknowledged but lost", round, k)
			}
		}
		if !adminDecided && r.Status != StatusApproved {
			t.Fatalf("round %d: all eligible but status %s", round, r.Status)
		}
		// One write per webhook, plus at most one approval after the last
		// replies raced (the admin decision is not counted here); repeats and
		// losers write nothing.
		if limit := len(keys) + 1; store.writes > limit {
			t.Fatalf("round %d: %d successful writes, want at most %d", round, store.writes, limit)
		}
	}
}

// A reply reads the configuration once: one that only records looks for a
// completed request in that read, not in another; the reply that completes
// the request reads it again right before the approval it writes.
func TestAReplyReadsTheConfigurationOnceUnlessItApproves(t *testing.T) {
	u, store, lister, tokens := newReplies("a", "b", "c")
	addRequest(store, tokens, "pri_1", StatusAwaitingPreApproval, "a", "b", "c")
	ctx := context.Background()
	for i, k := range []string{"a", "b"} {
		if err := u.Reply(ctx, "pri_1/"+k, "pri_1", WebhookEligible); err != nil {
			t.Fatal(err)
		}
		if len(lister.since) != i+1 {
			t.Fatalf("after %d replies that only record, %d reads of the configuration", i+1, len(lister.since))
		}
	}
	if err := u.Reply(ctx, "pri_1/c", "pri_1", WebhookEligible); err != nil {
		t.Fatal(err)
	}
	if r, _ := store.Get(ctx, "pri_1"); r.Status != StatusApproved || len(lister.since) != 3 {
		t.Fatalf("status %s after %d reads, want approved after 3", r.Status, len(lister.since))
	}
}
