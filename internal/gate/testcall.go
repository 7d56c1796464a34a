package gate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// TestIDPrefix starts the id of a test call: "pri_test_<uuid4>". It stands
// where a privacy request id stands in the call, so a validator answers a
// test as it answers a request; no request has such an id.
const TestIDPrefix = "pri_test_"

// TestRetention is how long a test call is kept.
const TestRetention = 24 * time.Hour

// IsTestID reports whether id names a test call, not a privacy request.
func IsTestID(id string) bool { return strings.HasPrefix(id, TestIDPrefix) }

// NewTestID returns "pri_test_<uuid4>".
func NewTestID() string { return TestIDPrefix + strings.TrimPrefix(NewRequestID(), "pri_") }

// The states of a test call.
const (
	TestSending = "sending"
	TestCalled  = "called"
	TestFailed  = "failed"
	TestReplied = "replied"
)

// TestCall is one test call of a webhook and what came of it.
type TestCall struct {
	ID         string
	WebhookKey string
	CreatedAt  time.Time
	// Call is how the call ended: "" while sending, TestCalled or TestFailed.
	Call       string
	HTTPStatus int
	Latency    time.Duration
	Error      string
	// Reply is the validator's answer ("" for none), recorded even when it
	// came before the call returned or after it failed.
	Reply     WebhookState
	RepliedAt *time.Time
}

// Status is the state the API shows: replied once answered, else how the call ended.
func (t TestCall) Status() string {
	switch {
	case t.Reply != "":
		return TestReplied
	case t.Call != "":
		return t.Call
	}
	return TestSending
}

// TestStore keeps test calls for TestRetention.
type TestStore interface {
	CreateTest(ctx context.Context, t TestCall) error
	// GetTest returns a test, or a *NotFoundError.
	GetTest(ctx context.Context, id string) (TestCall, error)
	// RecordTestCall records how the call ended (t's Call, HTTPStatus, Latency, Error).
	RecordTestCall(ctx context.Context, t TestCall) error
	// RecordTestReply records the answer of webhookKey's validator, only
	// while the test is webhookKey's and has no other answer; else a
	// *ConflictError (a *NotFoundError for no such test).
	RecordTestReply(ctx context.Context, id, webhookKey string, answer WebhookState, at time.Time) error
}

// WebhookTests are the test-call use cases of the admin routes.
type WebhookTests struct {
	Admin *Admin
	Tests TestStore
	Queue DeliveryQueue
	Now   func() time.Time
}

// Send starts a test call of a configured webhook whose connection has
// secrets: the dispatcher makes it, once, with no retry.
func (u *WebhookTests) Send(ctx context.Context, key string) (TestCall, error) {
	set, i, err := u.Admin.loadWebhook(ctx, key)
	if err != nil {
		return TestCall{}, err
	}
	conn := set.Webhooks[i].ConnectionKey
	s, err := u.Admin.Store.GetSealedSecrets(ctx, conn)
	var nf *NotFoundError
	if errors.As(err, &nf) || err == nil && s == nil {
		return TestCall{}, Invalid(fmt.Sprintf("Connection '%s' has no secrets: set its url and authorization (PUT /connection/%s/secret) before sending a test call.", conn, conn),
			"value_error.missing_secrets", "path", "key")
	}
	if err != nil {
		return TestCall{}, err
	}
	t := TestCall{ID: NewTestID(), WebhookKey: key, CreatedAt: u.Now().UTC().Truncate(time.Microsecond)}
	if err := u.Tests.CreateTest(ctx, t); err != nil {
		return TestCall{}, fmt.Errorf("create test call: %w", err)
	}
	if err := u.Queue.EnqueueDeliveries(ctx, []Delivery{{ID: DeliveryID(t.ID, key), PrivacyRequestID: t.ID, WebhookKey: key}}); err != nil {
		return TestCall{}, fmt.Errorf("enqueue test call: %w", err)
	}
	return t, nil
}

// Get returns a test call of webhook key; a test of another webhook is 404.
func (u *WebhookTests) Get(ctx context.Context, key, id string) (TestCall, error) {
	notFound := &NotFoundError{Msg: fmt.Sprintf("No test call found with id '%s' for webhook '%s'.", id, key)}
	if _, _, err := u.Admin.loadWebhook(ctx, key); err != nil {
		return TestCall{}, err
	}
	if !IsTestID(id) || len(id) > len(TestIDPrefix)+36 {
		return TestCall{}, notFound
	}
	t, err := u.Tests.GetTest(ctx, id)
	var nf *NotFoundError
	if errors.As(err, &nf) || err == nil && t.WebhookKey != key {
		return TestCall{}, notFound
	}
	return t, err
}

// testRequest is what a test call says of its privacy request: an access
// request of test@example.com, awaiting pre-approval.
func testRequest(t TestCall) *PrivacyRequest {
	return &PrivacyRequest{ID: t.ID, Status: StatusAwaitingPreApproval, PolicyKey: "default_access_policy", PolicyAction: "access",
		Identity: Identity{Email: "test@example.com"}, CreatedAt: t.CreatedAt}
}

// deliverTest makes the one attempt of a test call and records how it
// ended; a test is never retried, and never logged or counted.
func (u *Dispatcher) deliverTest(ctx context.Context, a Attempt) Result {
	d := a.Delivery
	if u.Tests == nil {
		return Result{Outcome: Outcome{Kind: OutcomeSkipped, Reason: "test calls are not kept here"}}
	}
	t, err := u.Tests.GetTest(ctx, d.PrivacyRequestID)
	var nf *NotFoundError
	switch {
	case errors.As(err, &nf):
		return Result{Outcome: Outcome{Kind: OutcomeSkipped, Reason: "test call expired"}}
	case err != nil:
		return Result{Err: err}
	case t.Call != "" || t.WebhookKey != d.WebhookKey:
		return Result{Outcome: Outcome{Kind: OutcomeSkipped, Reason: "test call already made"}}
	}
	res := u.Targets.DeliveryTargets(ctx, []string{d.WebhookKey})[d.WebhookKey]
	var call CallResult
	if res.Err != nil {
		call.Reason = res.Err.Error()
	} else {
		var header http.Header
		var body []byte
		header, body, err = u.buildCall(testRequest(t), d, res.Target, u.Now().UTC())
		if err != nil {
			return Result{Err: err}
		}
		header.Set("pregate-test", "true")
		start := u.Now()
		call = u.Caller.Call(ctx, res.Target.URL, header, body)
		t.Latency = u.Now().Sub(start)
	}
	t.Call, t.HTTPStatus = TestCalled, call.StatusCode
	if !call.OK {
		t.Call, t.Error = TestFailed, TruncateReason(call.Reason)
	}
	if err := u.Tests.RecordTestCall(ctx, t); err != nil {
		return Result{Err: err} // made again on the next receive: a test may be called twice, never silently lost
	}
	if call.OK {
		return Result{Outcome: Outcome{Kind: OutcomeDelivered}}
	}
	return Result{Outcome: Outcome{Kind: OutcomeFailed, Reason: t.Error}}
}

// replyToTest records a validator's answer to a test call. The token was
// minted for this test and this webhook (the caller checked both); the same
// answer again is a repeat, another answer a 400 as for a request.
func (u *Replies) replyToTest(ctx context.Context, claims ReplyClaims, answer WebhookState) error {
	if u.Tests == nil {
		return &NotFoundError{Msg: fmt.Sprintf("No privacy request found with id: '%s'.", claims.PrivacyRequestID)}
	}
	err := u.Tests.RecordTestReply(ctx, claims.PrivacyRequestID, claims.WebhookKey, answer, u.now())
	var cf *ConflictError
	var nf *NotFoundError
	switch {
	case errors.As(err, &nf):
		return &NotFoundError{Msg: fmt.Sprintf("No privacy request found with id: '%s'.", claims.PrivacyRequestID)}
	case errors.As(err, &cf):
		t, gerr := u.Tests.GetTest(ctx, claims.PrivacyRequestID)
		if gerr == nil && t.Reply == answer {
			return nil
		}
		return alreadyReplied(claims.WebhookKey, claims.PrivacyRequestID)
	}
	return err
}
