package gate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memDeliveryStore is an in-memory DeliveryStore with the conditions of
// docs/internals/dispatch.md.
type memDeliveryStore struct {
	memReplyStore
}

func (m *memReplyStore) RecordDeliveries(_ context.Context, w DeliveryWrite) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.reqs[w.ID]
	refused := &ConflictError{Msg: "condition failed"}
	if !ok || w.ToPending && r.Status != StatusAwaitingPreApproval {
		return refused
	}
	for _, mk := range w.Marks {
		h := r.Webhooks[mk.Index]
		if h.Key != mk.Key || h.Delivery != "" || mk.State == WebhookFailed && h.Reply != "" {
			return refused
		}
	}
	for _, mk := range w.Marks {
		r.Webhooks[mk.Index].Delivery, r.Webhooks[mk.Index].Attempts = mk.State, mk.Attempts
	}
	if w.ToPending {
		r.Status = StatusPending
	}
	r.Activity = append(r.Activity, w.Activity...)
	m.writes++
	return nil
}

type fakeCaller struct {
	mu     sync.Mutex
	res    CallResult
	calls  int
	url    string
	header http.Header
	body   []byte
}

func (f *fakeCaller) Call(_ context.Context, url string, header http.Header, body []byte) CallResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.url, f.header, f.body = url, header, body
	return f.res
}

type fakeTargets map[string]DeliveryTarget

func (f fakeTargets) DeliveryTargets(_ context.Context, keys []string) map[string]TargetResult {
	out := map[string]TargetResult{}
	for _, k := range keys {
		t, ok := f[k]
		if !ok {
			out[k] = TargetResult{Err: &NotFoundError{Msg: "gone"}}
			continue
		}
		out[k] = TargetResult{Target: t}
	}
	return out
}

// deliver makes one attempt alone in its batch.
func deliver(u *Dispatcher, d Delivery, attempt int) (Outcome, error) {
	r := u.DeliverBatch(context.Background(), []Attempt{{Delivery: d, Number: attempt}})[0]
	return r.Outcome, r.Err
}

// withState is a snapshot webhook showing state st.
func withState(key, name string, st WebhookState) SnapshotWebhook {
	w := SnapshotWebhook{Key: key, Name: name}
	switch st {
	case WebhookCalled, WebhookFailed:
		w.Delivery = st
	case WebhookEligible, WebhookNotEligible:
		w.Delivery, w.Reply = WebhookCalled, st
	}
	return w
}

type fakeMinter struct{}

func (fakeMinter) MintReply(key, id string, _ int) (string, error) {
	return "tok." + key + "." + id, nil
}

var dispatchNow = time.Date(2026, 11, 26, 12, 0, 0, 123456000, time.UTC)

func newDispatchFixture(status Status, state WebhookState, res CallResult) (*Dispatcher, *memDeliveryStore, *fakeCaller) {
	store := &memDeliveryStore{memReplyStore: memReplyStore{reqs: map[string]*PrivacyRequest{
		"pri_1": {ID: "pri_1", Status: status, PolicyKey: "default_access_policy", PolicyAction: "access",
			Identity: Identity{Email: "a@example.com"}, CreatedAt: dispatchNow.Add(-time.Hour),
			Webhooks: []SnapshotWebhook{{Key: "other", Name: "Other"}, withState("hook", "Hook", state)}},
	}}}
	caller := &fakeCaller{res: res}
	u := &Dispatcher{
		Store: store, Caller: caller, Tokens: fakeMinter{},
		Targets: fakeTargets{"hook": {Webhook: Webhook{Key: "hook", Name: "Hook"}, URL: "https://v.example/x", Authorization: "Bearer abc",
			Headers: map[string]string{"X-Extra": "1"}, SigningSecrets: []string{"new", "old"}}},
		Sign: func(secret, msgID string, ts time.Time, body []byte) (string, error) {
			return "v1," + secret + "." + msgID, nil
		},
		BaseURL: "https://gate.example/api/v1", MaxAttempts: 3, Backoff: 5 * time.Second,
		Now: func() time.Time { return dispatchNow }, Rand: func() float64 { return 1 },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	return u, store, caller
}

func TestDeliverOutcomes(t *testing.T) {
	ok := CallResult{OK: true, StatusCode: 204}
	fail500 := CallResult{StatusCode: 500, Retryable: true, Reason: "HTTP 500"}
	gone := CallResult{StatusCode: 410, Reason: "HTTP 410"}
	cases := []struct {
		name       string
		status     Status
		state      WebhookState
		res        CallResult
		attempt    int
		wantKind   OutcomeKind
		wantCalls  int
		wantState  WebhookState
		wantStatus Status
		wantAction string
		wantMsg    string
	}{
		{"2xx records called", StatusAwaitingPreApproval, WebhookPending, ok, 1, OutcomeDelivered, 1, WebhookCalled, StatusAwaitingPreApproval,
			ActionWebhookCalled, "Called pre-approval webhook 'Hook': HTTP 204"},
		{"pending request still called", StatusPending, WebhookPending, ok, 1, OutcomeDelivered, 1, WebhookCalled, StatusPending, ActionWebhookCalled, ""},
		{"not eligible request still called", StatusPreApprovalNotEligible, WebhookPending, ok, 2, OutcomeDelivered, 1, WebhookCalled, StatusPreApprovalNotEligible, ActionWebhookCalled, ""},
		{"retryable failure retries", StatusAwaitingPreApproval, WebhookPending, fail500, 1, OutcomeRetry, 1, WebhookPending, StatusAwaitingPreApproval, "", ""},
		{"last attempt fails for good", StatusAwaitingPreApproval, WebhookPending, fail500, 3, OutcomeFailed, 1, WebhookFailed, StatusPending,
			ActionWebhookFailed, "Pre-approval webhook 'Hook' failed after 3 attempts: HTTP 500"},
		{"410 fails at once", StatusAwaitingPreApproval, WebhookPending, gone, 1, OutcomeFailed, 1, WebhookFailed, StatusPending,
			ActionWebhookFailed, "Pre-approval webhook 'Hook' failed after 1 attempts: HTTP 410"},
		{"failure on pending request keeps status", StatusPending, WebhookPending, gone, 1, OutcomeFailed, 1, WebhookFailed, StatusPending, ActionWebhookFailed, ""},
		{"approved request skipped", StatusApproved, WebhookPending, ok, 1, OutcomeSkipped, 0, WebhookPending, StatusApproved, "", ""},
		{"denied request skipped", StatusDenied, WebhookPending, ok, 1, OutcomeSkipped, 0, WebhookPending, StatusDenied, "", ""},
		{"canceled request skipped", StatusCanceled, WebhookPending, ok, 1, OutcomeSkipped, 0, WebhookPending, StatusCanceled, "", ""},
		{"duplicate after success skipped", StatusAwaitingPreApproval, WebhookCalled, ok, 1, OutcomeSkipped, 0, WebhookCalled, StatusAwaitingPreApproval, "", ""},
		{"already eligible skipped", StatusAwaitingPreApproval, WebhookEligible, ok, 1, OutcomeSkipped, 0, WebhookEligible, StatusAwaitingPreApproval, "", ""},
		{"already not eligible skipped", StatusPreApprovalNotEligible, WebhookNotEligible, ok, 1, OutcomeSkipped, 0, WebhookNotEligible, StatusPreApprovalNotEligible, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, store, caller := newDispatchFixture(tc.status, tc.state, tc.res)
			out, err := deliver(u, Delivery{ID: "pri_1:hook", PrivacyRequestID: "pri_1", WebhookKey: "hook"}, tc.attempt)
			if err != nil {
				t.Fatal(err)
			}
			if out.Kind != tc.wantKind || caller.calls != tc.wantCalls {
				t.Fatalf("outcome %+v, %d calls; want %s, %d calls", out, caller.calls, tc.wantKind, tc.wantCalls)
			}
			r := store.reqs["pri_1"]
			if r.Webhooks[1].State() != tc.wantState || r.Status != tc.wantStatus || r.Webhooks[0].State() != WebhookPending {
				t.Fatalf("state %s status %s; want %s %s", r.Webhooks[1].State(), r.Status, tc.wantState, tc.wantStatus)
			}
			wantWrites := 0
			if tc.wantAction != "" {
				wantWrites = 1
				if len(r.Activity) == 0 || r.Activity[0].Action() != tc.wantAction || r.Activity[0].WebhookKey() != "hook" {
					t.Fatalf("activity %+v, want %s", r.Activity, tc.wantAction)
				}
				if tc.wantMsg != "" && r.Activity[0].Message() != tc.wantMsg {
					t.Fatalf("message %q, want %q", r.Activity[0].Message(), tc.wantMsg)
				}
				if r.Webhooks[1].Attempts != tc.attempt {
					t.Fatalf("attempts %d, want %d", r.Webhooks[1].Attempts, tc.attempt)
				}
			}
			if store.writes != wantWrites {
				t.Fatalf("%d writes, want %d", store.writes, wantWrites)
			}
		})
	}
}

func TestDeliverTwiceCallsOnce(t *testing.T) {
	u, _, caller := newDispatchFixture(StatusAwaitingPreApproval, WebhookPending, CallResult{OK: true, StatusCode: 200})
	d := Delivery{ID: "pri_1:hook", PrivacyRequestID: "pri_1", WebhookKey: "hook"}
	for range 2 {
		if _, err := deliver(u, d, 1); err != nil {
			t.Fatal(err)
		}
	}
	if caller.calls != 1 {
		t.Fatalf("%d calls, want 1", caller.calls)
	}
}

func TestDeliverDropsDeletedWebhookAndMissingRequest(t *testing.T) {
	u, store, caller := newDispatchFixture(StatusAwaitingPreApproval, WebhookPending, CallResult{OK: true, StatusCode: 200})
	u.Targets = fakeTargets{}
	out, err := deliver(u, Delivery{ID: "pri_1:hook", PrivacyRequestID: "pri_1", WebhookKey: "hook"}, 1)
	if err != nil || out.Kind != OutcomeSkipped || caller.calls != 0 || store.writes != 0 {
		t.Fatalf("deleted webhook: %+v %v, %d calls", out, err, caller.calls)
	}
	out, err = deliver(u, Delivery{ID: "pri_x:hook", PrivacyRequestID: "pri_x", WebhookKey: "hook"}, 1)
	if err != nil || out.Kind != OutcomeSkipped || caller.calls != 0 {
		t.Fatalf("missing request: %+v %v", out, err)
	}
}

func TestDeliverBuildsTheCall(t *testing.T) {
	u, _, caller := newDispatchFixture(StatusAwaitingPreApproval, WebhookPending, CallResult{OK: true, StatusCode: 200})
	if _, err := deliver(u, Delivery{ID: "pri_1:hook", PrivacyRequestID: "pri_1", WebhookKey: "hook"}, 1); err != nil {
		t.Fatal(err)
	}
	if caller.url != "https://v.example/x" {
		t.Fatalf("url %q", caller.url)
	}
	want := map[string]string{
		"Content-Type": "application/json", "Authorization": "Bearer abc", "X-Extra": "1",
		"reply-to-eligible": "/privacy-request/pri_1/pre-approve/eligible", "reply-to-not-eligible": "/privacy-request/pri_1/pre-approve/not-eligible",
		"reply-to-approve": "/privacy-request/pri_1/pre-approve/eligible", "reply-to-deny": "/privacy-request/pri_1/pre-approve/not-eligible",
		"reply-to-token": "tok.hook.pri_1", "reply-to-base-url": "https://gate.example/api/v1",
		"webhook-id": "pri_1:hook", "webhook-timestamp": "1795694400", "webhook-signature": "v1,new.pri_1:hook v1,old.pri_1:hook",
	}
	for k, v := range want {
		if got := caller.header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	var body map[string]any
	if err := json.Unmarshal(caller.body, &body); err != nil {
		t.Fatal(err)
	}
	wantBody := `{"callback_type":"pre_approval","direction":"two_way","identity":{"email":"a@example.com","phone_number":null},` +
		`"policy_action":"access","privacy_request":{"external_id":null,"id":"pri_1","identity_verified_at":null,` +
		`"policy":{"key":"default_access_policy","name":"Default Access Policy","rules":[{"action_type":"access"}]},` +
		`"requested_at":"2026-11-26T11:00:00.123456Z","status":"awaiting_pre_approval"},"privacy_request_id":"pri_1",` +
		`"privacy_request_status":"awaiting_pre_approval","timestamp":"2026-11-26T12:00:00.123456Z"}`
	got, _ := json.Marshal(body)
	if string(got) != wantBody {
		t.Fatalf("body\n%s\nwant\n%s", got, wantBody)
	}
}

func TestRetryDelay(t *testing.T) {
	u := &Dispatcher{Backoff: 5 * time.Second, Rand: func() float64 { return 1 }}
	for attempt, want := range map[int]time.Duration{1: 5 * time.Second, 2: 10 * time.Second, 3: 20 * time.Second, 12: MaxRetryDelay} {
		if got := u.retryDelay(attempt); got != want {
			t.Errorf("attempt %d: %s, want %s", attempt, got, want)
		}
	}
	u.Rand = func() float64 { return 0 }
	if got := u.retryDelay(2); got != 5*time.Second {
		t.Errorf("min jitter: %s", got)
	}
}

func TestDeliverFailureAfterReplyLeavesStateAlone(t *testing.T) {
	// The validator replied eligible although our call timed out: the final
	// failure must not overwrite the reply.
	u, store, _ := newDispatchFixture(StatusAwaitingPreApproval, WebhookPending, CallResult{Reason: "timeout", Retryable: true})
	u.Caller = callerFunc(func() CallResult {
		store.reqs["pri_1"].Webhooks[1].Reply = WebhookEligible
		return CallResult{Reason: "timeout", Retryable: true}
	})
	out, err := deliver(u, Delivery{ID: "pri_1:hook", PrivacyRequestID: "pri_1", WebhookKey: "hook"}, 3)
	if err != nil || out.Kind != OutcomeFailed {
		t.Fatalf("%+v %v", out, err)
	}
	r := store.reqs["pri_1"]
	if r.Webhooks[1].State() != WebhookEligible || r.Status != StatusAwaitingPreApproval || store.writes != 0 {
		t.Fatalf("state %s status %s writes %d", r.Webhooks[1].State(), r.Status, store.writes)
	}
}

type callerFunc func() CallResult

func (f callerFunc) Call(context.Context, string, http.Header, []byte) CallResult { return f() }

func TestDeliverSuccessAfterReplyKeepsTheReply(t *testing.T) {
	// The validator replied eligible before its 200 reached us.
	u, store, _ := newDispatchFixture(StatusAwaitingPreApproval, WebhookPending, CallResult{})
	u.Caller = callerFunc(func() CallResult {
		store.reqs["pri_1"].Webhooks[1].Reply = WebhookEligible
		return CallResult{OK: true, StatusCode: 200}
	})
	out, err := deliver(u, Delivery{ID: "pri_1:hook", PrivacyRequestID: "pri_1", WebhookKey: "hook"}, 1)
	if err != nil || out.Kind != OutcomeDelivered {
		t.Fatalf("%+v %v", out, err)
	}
	r := store.reqs["pri_1"]
	if r.Webhooks[1].State() != WebhookEligible || r.Webhooks[1].Attempts != 1 || store.writes != 1 ||
		r.Activity[len(r.Activity)-1].Action() != ActionWebhookCalled {
		t.Fatalf("webhook %+v, %d writes, activity %+v", r.Webhooks[1], store.writes, r.Activity)
	}
}

// threeHooks is a request awaiting three validators, none called yet.
func threeHooks(res CallResult) (*Dispatcher, *memDeliveryStore, *fakeCaller, []Attempt) {
	u, store, caller := newDispatchFixture(StatusAwaitingPreApproval, WebhookPending, res)
	r := store.reqs["pri_1"]
	r.Webhooks = []SnapshotWebhook{{Key: "a", Name: "A"}, {Key: "b", Name: "B"}, {Key: "c", Name: "C"}}
	targets := fakeTargets{}
	var as []Attempt
	for _, w := range r.Webhooks {
		targets[w.Key] = DeliveryTarget{Webhook: Webhook{Key: w.Key, Name: w.Name}, URL: "https://v.example/" + w.Key}
		as = append(as, Attempt{Delivery: Delivery{ID: "pri_1:" + w.Key, PrivacyRequestID: "pri_1", WebhookKey: w.Key}, Number: 1})
	}
	u.Targets = targets
	return u, store, caller, as
}

func TestBatchOfOneRequestIsOneReadAndOneWrite(t *testing.T) {
	u, store, caller, as := threeHooks(CallResult{OK: true, StatusCode: 200})
	for _, res := range u.DeliverBatch(context.Background(), as) {
		if res.Err != nil || res.Outcome.Kind != OutcomeDelivered {
			t.Fatalf("%+v", res)
		}
	}
	r := store.reqs["pri_1"]
	if caller.calls != 3 || store.gets != 1 || store.writes != 1 || len(r.Activity) != 3 {
		t.Fatalf("%d calls, %d reads, %d writes, activity %+v; want 3 calls, 1 read, 1 write, 3 entries", caller.calls, store.gets, store.writes, r.Activity)
	}
	for _, w := range r.Webhooks {
		if w.Delivery != WebhookCalled || w.Attempts != 1 {
			t.Fatalf("webhook %+v", w)
		}
	}
}

func TestBatchMixesCalledAndFailedInOneWrite(t *testing.T) {
	u, store, _, as := threeHooks(CallResult{})
	u.Caller = urlCaller(func(url string) CallResult {
		if url == "https://v.example/b" {
			return CallResult{StatusCode: 410, Reason: "HTTP 410"}
		}
		return CallResult{OK: true, StatusCode: 200}
	})
	res := u.DeliverBatch(context.Background(), as)
	if res[0].Outcome.Kind != OutcomeDelivered || res[1].Outcome.Kind != OutcomeFailed || res[2].Outcome.Kind != OutcomeDelivered {
		t.Fatalf("%+v", res)
	}
	r := store.reqs["pri_1"]
	if store.writes != 1 || r.Status != StatusPending || r.Webhooks[1].Delivery != WebhookFailed || r.Webhooks[2].Delivery != WebhookCalled {
		t.Fatalf("%d writes, status %s, webhooks %+v", store.writes, r.Status, r.Webhooks)
	}
	if len(r.Activity) != 4 || r.Activity[2].Action() != ActionStatusChanged || r.Activity[2].Message() != "Status changed from awaiting_pre_approval to pending" {
		t.Fatalf("activity %+v", r.Activity)
	}
}

func TestSameMessageTwiceInOneBatchCallsOnce(t *testing.T) {
	u, store, caller, as := threeHooks(CallResult{OK: true, StatusCode: 200})
	res := u.DeliverBatch(context.Background(), []Attempt{as[0], as[0]})
	if caller.calls != 1 || store.writes != 1 || res[1].Outcome.Kind != OutcomeSkipped {
		t.Fatalf("%d calls, %d writes, %+v", caller.calls, store.writes, res)
	}
}

// A duplicate message handled by another invocation recorded the delivery
// while our call was in flight: our write is refused, and the retry keeps
// our call's timeline entry without marking the webhook twice.
func TestRecordingConflictKeepsTheCallEntry(t *testing.T) {
	u, store, _, as := threeHooks(CallResult{})
	u.Caller = callerFunc(func() CallResult {
		store.mu.Lock()
		if store.reqs["pri_1"].Webhooks[0].Delivery == "" {
			store.reqs["pri_1"].Webhooks[0].Delivery, store.reqs["pri_1"].Webhooks[0].Attempts = WebhookCalled, 1
			store.reqs["pri_1"].Activity = append(store.reqs["pri_1"].Activity, ActivityEntry{Kind: KindCalled, Hooks: []Mention{{Key: "a"}}})
		}
		store.mu.Unlock()
		return CallResult{OK: true, StatusCode: 200}
	})
	as[0].Number = 2
	res := u.DeliverBatch(context.Background(), as)
	for _, x := range res {
		if x.Err != nil || x.Outcome.Kind != OutcomeDelivered {
			t.Fatalf("%+v", res)
		}
	}
	r := store.reqs["pri_1"]
	called := 0
	for _, e := range r.Activity {
		if e.Action() == ActionWebhookCalled {
			called++
		}
	}
	if called != 4 || r.Webhooks[0].Attempts != 1 || r.Webhooks[1].Delivery != WebhookCalled || store.writes != 1 {
		t.Fatalf("%d called entries, webhook a %+v, %d writes", called, r.Webhooks[0], store.writes)
	}
}

type urlCaller func(url string) CallResult

func (f urlCaller) Call(_ context.Context, url string, _ http.Header, _ []byte) CallResult {
	return f(url)
}

func TestCallsOfABatchRunConcurrentlyWithABound(t *testing.T) {
	u, _, _, as := threeHooks(CallResult{})
	var inFlight, most atomic.Int32
	u.Concurrency = 2
	u.Caller = callerFunc(func() CallResult {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		return CallResult{OK: true, StatusCode: 200}
	})
	u.DeliverBatch(context.Background(), as)
	if most.Load() != 2 {
		t.Fatalf("%d calls at once, want 2", most.Load())
	}
}

// The called entry keeps the call's evidence: its HTTP status, its latency
// and the SHA-256 of the very body the validator got.
func TestCalledEntryKeepsTheCallsEvidence(t *testing.T) {
	u, store, caller := newDispatchFixture(StatusAwaitingPreApproval, WebhookPending, CallResult{OK: true, StatusCode: 202})
	tick := dispatchNow
	u.Now = func() time.Time { tick = tick.Add(40 * time.Millisecond); return tick }
	if _, err := deliver(u, Delivery{ID: "pri_1:hook", PrivacyRequestID: "pri_1", WebhookKey: "hook"}, 1); err != nil {
		t.Fatal(err)
	}
	e := store.reqs["pri_1"].Activity[0]
	sum := sha256.Sum256(caller.body)
	if e.Kind != KindCalled || e.HTTPStatus != 202 || e.Latency != 40*time.Millisecond || !bytes.Equal(e.BodySHA256, sum[:]) {
		t.Fatalf("called entry %+v, want HTTP 202, 40ms and the body's SHA-256 %x", e, sum)
	}
}
