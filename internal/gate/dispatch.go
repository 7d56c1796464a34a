package gate

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pregate/pregate/internal/logkey"
)

// CallResult is what one HTTP call to a validator came to. Reason is short
// and safe to store (no URL, no header value).
type CallResult struct {
	StatusCode int // 0 when no response was received
	OK         bool
	Retryable  bool
	Reason     string
}

// Caller posts one call to a validator (implemented by *webhook.Client).
type Caller interface {
	Call(ctx context.Context, url string, header http.Header, body []byte) CallResult
}

// ReplyTokenMinter mints the reply-to-token of a call for one pre-approval
// run of a request (implemented by *keys.Tokens).
type ReplyTokenMinter interface {
	MintReply(webhookKey, privacyRequestID string, run int) (string, error)
}

// DeliveryTargets opens what the calls of one batch need (implemented by
// *TargetCache): each config item is read at most once per call.
type DeliveryTargets interface {
	DeliveryTargets(ctx context.Context, webhookKeys []string) map[string]TargetResult
}

// TargetResult is one webhook's delivery target, or why there is none: a
// *NotFoundError for a webhook no longer configured or a connection without
// secrets, any other error for a fault of ours.
type TargetResult struct {
	Target DeliveryTarget
	Err    error
}

// DeliveryMark records how one webhook's delivery ended (called or failed
// for good), at its place in the snapshot.
type DeliveryMark struct {
	Index    int
	Key      string
	State    WebhookState // called or failed
	Attempts int
}

// DeliveryWrite records the ends of one request's deliveries of a batch as
// one conditional write (docs/internals/dispatch.md). It never conditions on the
// status for a called mark, so replies and decisions never refuse it:
//   - each mark applies only while its webhook has no delivery recorded
//     (a redelivered message cannot record twice);
//   - a failed mark also only while its webhook has no reply (a reply that
//     came in spite of the failure stands);
//   - ToPending moves awaiting_pre_approval to pending, only while the
//     status is still awaiting_pre_approval.
//
// Activity is appended in any case, so a write without marks only adds the
// timeline entries of calls whose delivery another invocation recorded.
type DeliveryWrite struct {
	ID string
	// Run is the pre-approval run the deliveries were made for: the write
	// applies only while the request is still in that run.
	Run       int
	Marks     []DeliveryMark
	ToPending bool
	At        time.Time
	Activity  []ActivityEntry
}

// DeliveryStore is what the dispatcher needs from storage.
type DeliveryStore interface {
	Get(ctx context.Context, id string) (*PrivacyRequest, error)
	// RecordDeliveries makes w; a refused condition is a *ConflictError.
	RecordDeliveries(ctx context.Context, w DeliveryWrite) error
}

// OutcomeKind is what became of one delivery attempt.
type OutcomeKind string

// The outcomes of Dispatcher.DeliverBatch.
const (
	OutcomeDelivered OutcomeKind = "delivered" // 2xx, recorded
	OutcomeSkipped   OutcomeKind = "skipped"   // nothing to call (decided, deleted, already called...)
	OutcomeRetry     OutcomeKind = "retry"     // attempt failed; try again after RetryAfter
	OutcomeFailed    OutcomeKind = "failed"    // failed for good, recorded
)

// Outcome is the result of one attempt. Only OutcomeRetry keeps the message.
type Outcome struct {
	Kind       OutcomeKind
	RetryAfter time.Duration
	Reason     string
}

// Attempt is one received message: attempt number Number (1-based) of a
// delivery, counted by the dispatcher itself (calls made), so that a
// throttled or crashed invocation uses up none of the validator's attempts.
// Receives is how often this message has been received (the queue's count,
// 0 when unknown): the backstop that ends a fault of ours that persists.
type Attempt struct {
	Delivery Delivery
	Number   int
	Receives int
}

// DefaultMaxOwnFaultReceives is how often a delivery is tried again after a
// fault of ours (secrets or keys that cannot be opened, storage) before it is
// recorded as failed. With the dispatch queue's visibility timeout of 6
// minutes, about half an hour.
const DefaultMaxOwnFaultReceives = 5

// Result is what became of one Attempt. Err is a fault of ours (storage,
// keys): the attempt should be retried as is.
type Result struct {
	Outcome Outcome
	Err     error
}

// MaxRetryDelay caps the backoff (SQS's visibility limit is far above; the contract says 15 min).
const MaxRetryDelay = 15 * time.Minute

// DefaultConcurrency bounds the calls made at once within one batch.
const DefaultConcurrency = 10

// PolicyNames are the display names of the default policies (in the call's body).
var PolicyNames = map[string]string{
	"default_access_policy":  "Default Access Policy",
	"default_erasure_policy": "Default Erasure Policy",
	"default_consent_policy": "Default Consent Policy",
	"default_update_policy":  "Default Update Policy",
}

// Dispatcher calls the validators of one batch of deliveries.
type Dispatcher struct {
	Store       DeliveryStore
	Targets     DeliveryTargets
	Tokens      ReplyTokenMinter
	Caller      Caller
	Sign        func(secret, msgID string, ts time.Time, body []byte) (string, error)
	BaseURL     string // PUBLIC_BASE_URL, ending in /api/v1
	MaxAttempts int
	Backoff     time.Duration
	Concurrency int // calls in flight at once; DefaultConcurrency when 0
	// MaxOwnFaultReceives ends a fault of ours: a message received this often
	// whose attempt fails on our side records the delivery as failed, with
	// the reason, instead of waiting on (DefaultMaxOwnFaultReceives when 0).
	MaxOwnFaultReceives int
	Now                 func() time.Time
	Rand                func() float64 // [0,1); math/rand/v2 when nil
	Log                 *slog.Logger
	// Attempts keeps every attempt in the webhook's delivery log; nil keeps none.
	Attempts DeliveryLog
	// Tests keeps the test calls the dispatcher makes (nil: none are made).
	Tests TestStore
	// Notifier tells the admins when a webhook's deliveries fail
	// FailingStreak times in a row (nil: nobody is told); Links are its links.
	Notifier Notifier
	Links    ConsoleLinks
}

// maxDeliveryRetries bounds re-decisions of the recording write under contention.
const maxDeliveryRetries = 20

// batchItem is one attempt on its way through DeliverBatch.
type batchItem struct {
	Attempt
	pos    int // in the batch, for its Result
	req    *PrivacyRequest
	target DeliveryTarget
	call   CallResult
	// ours is set when the delivery ends for a reason of ours (call.Reason
	// says which) instead of a validator's answer.
	ours    bool
	latency time.Duration
	// bodySum is the SHA-256 of the body sent, for the evidence.
	bodySum [sha256.Size]byte
	// made is the call's own result, kept for the delivery log: a fault of
	// ours found after the call (giveUp) replaces call, not what was called.
	made *CallResult
	log  *slog.Logger
}

// DeliverBatch makes every attempt of a batch, results in the same order.
// Each request is read once, the config through Targets once, the calls run
// concurrently (at most Concurrency at once), and the ends of one request's
// deliveries are recorded by one write: a batch holding all M webhooks of a
// request (the stream sends them in one SendMessageBatch) costs one write.
func (u *Dispatcher) DeliverBatch(ctx context.Context, attempts []Attempt) []Result {
	res := make([]Result, len(attempts))
	items := make([]*batchItem, 0, len(attempts))
	for i, a := range attempts {
		if IsTestID(a.Delivery.PrivacyRequestID) {
			res[i] = u.deliverTest(ctx, a)
			continue
		}
		items = append(items, &batchItem{Attempt: a, pos: i, log: u.Log.With(logkey.PrivacyRequestID, a.Delivery.PrivacyRequestID,
			logkey.WebhookKey, a.Delivery.WebhookKey, logkey.DeliveryID, a.Delivery.ID, logkey.Attempt, a.Number)})
	}
	toCall := u.readRequests(ctx, items, res)
	calls, ended := u.openTargets(ctx, toCall, res)
	ended = append(ended, u.callAll(ctx, calls, res)...)
	var givenUp []*batchItem
	for _, group := range u.recordAll(ctx, ended, res) {
		for _, it := range group.items {
			if u.giveUp(ctx, it, "", group.err, res) {
				givenUp = append(givenUp, it)
			}
		}
	}
	u.recordAll(ctx, givenUp, res) // a refusal now leaves the message to the queue's dead-letter queue
	// The log comes after the request's own record, so that its write never
	// delays the timeline's called entry behind a validator's quick reply.
	for _, it := range items {
		switch {
		case it.made != nil:
			u.logAttempt(ctx, it, *it.made, false)
		case it.ours:
			u.logAttempt(ctx, it, it.call, true)
		}
	}
	u.tellFailing(ctx, append(ended, givenUp...), res)
	return res
}

// tellFailing tells the admins of each webhook whose delivery failed for
// good in this batch and whose deliveries have now failed FailingStreak
// times in a row. Like the log it reads, it is for admins only: an error is
// logged and the batch goes on.
func (u *Dispatcher) tellFailing(ctx context.Context, ended []*batchItem, res []Result) {
	if u.Notifier == nil || u.Attempts == nil {
		return
	}
	checked := map[string]bool{}
	for _, it := range ended {
		key := it.Delivery.WebhookKey
		if checked[key] || res[it.pos].Outcome.Kind != OutcomeFailed {
			continue
		}
		checked[key] = true
		streak, err := endsFailedInARow(ctx, u.Attempts, key)
		if err == nil && streak {
			err = u.Notifier.Notify(ctx, WebhookFailing(u.Links, key, FailingStreak, u.Now().UTC()))
		}
		if err != nil {
			it.log.ErrorContext(ctx, "failing webhook check", "error", err.Error())
		}
	}
}

// logAttempt keeps it's attempt, ended with call (ours: for a reason of
// ours), in the delivery log. The log is a record for admins, not a state the
// gate depends on: a write that fails is logged and the delivery goes on
// (retrying it would call the validator again).
func (u *Dispatcher) logAttempt(ctx context.Context, it *batchItem, call CallResult, ours bool) {
	if u.Attempts == nil {
		return
	}
	a := LoggedAttempt{PrivacyRequestID: it.Delivery.PrivacyRequestID, Run: it.Delivery.Run, Attempt: it.Number,
		At: u.Now().UTC(), Outcome: WebhookCalled, HTTPStatus: call.StatusCode, Latency: it.latency,
		Final: ours || call.OK || !call.Retryable || it.Number >= u.MaxAttempts} // as outcome decides
	if !call.OK {
		a.Outcome, a.Error = WebhookFailed, TruncateReason(call.Reason)
	}
	if err := u.Attempts.LogAttempt(ctx, it.Delivery.WebhookKey, a); err != nil {
		it.log.ErrorContext(ctx, "delivery log write failed", "error", err.Error())
	}
}

type failedGroup struct {
	items []*batchItem
	err   error
}

// recordAll records the ended items, one write per request, and returns the
// groups whose write failed (their Results hold the error).
func (u *Dispatcher) recordAll(ctx context.Context, ended []*batchItem, res []Result) []failedGroup {
	var groups [][]*batchItem
	index := map[string]int{}
	for _, it := range ended {
		g, ok := index[it.Delivery.PrivacyRequestID]
		if !ok {
			g = len(groups)
			index[it.Delivery.PrivacyRequestID] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], it)
	}
	errs := make([]error, len(groups))
	u.each(len(groups), func(k int) { errs[k] = u.record(ctx, groups[k][0].req, groups[k]) })
	var failed []failedGroup
	for k, err := range errs {
		if err == nil {
			continue
		}
		for _, it := range groups[k] {
			res[it.pos] = Result{Err: err}
		}
		failed = append(failed, failedGroup{items: groups[k], err: err})
	}
	return failed
}

func (u *Dispatcher) maxOwnFaultReceives() int {
	if u.MaxOwnFaultReceives > 0 {
		return u.MaxOwnFaultReceives
	}
	return DefaultMaxOwnFaultReceives
}

// giveUp decides what a fault of ours in it's attempt comes to: while tries
// remain, the attempt is kept to be made again (its Result is err); after
// MaxOwnFaultReceives receives, or at once when the request's item is full,
// the delivery ends failed for a reason of ours (reason, or one told from
// err), and giveUp says true: the caller records it.
func (u *Dispatcher) giveUp(ctx context.Context, it *batchItem, reason string, err error, res []Result) bool {
	var big *ItemTooLargeError
	full := errors.As(err, &big)
	if it.req == nil || !full && it.Receives < u.maxOwnFaultReceives() {
		res[it.pos] = Result{Err: err}
		return false
	}
	switch {
	case reason != "":
	case full:
		reason = "the privacy request's record is full, so the call could not be recorded"
	default:
		reason = "a fault on our side persisted: " + err.Error()
	}
	it.call, it.ours = CallResult{Reason: reason}, true
	it.log.ErrorContext(ctx, "pre-approval webhook failed for good on our side", "reason", reason, "receives", it.Receives, "error", err.Error())
	res[it.pos] = Result{Outcome: Outcome{Kind: OutcomeFailed, Reason: reason}}
	return true
}

// readRequests reads each request of the batch once and returns the items
// to call; the others get their Result.
func (u *Dispatcher) readRequests(ctx context.Context, items []*batchItem, res []Result) []*batchItem {
	byRequest := map[string][]*batchItem{}
	var order []string
	for _, it := range items {
		id := it.Delivery.PrivacyRequestID
		if _, ok := byRequest[id]; !ok {
			order = append(order, id)
		}
		byRequest[id] = append(byRequest[id], it)
	}
	reqs := make([]*PrivacyRequest, len(order))
	errs := make([]error, len(order))
	u.each(len(order), func(k int) { reqs[k], errs[k] = u.Store.Get(ctx, order[k]) })
	var toCall []*batchItem
	seen := map[string]bool{}
	for k, id := range order {
		for _, it := range byRequest[id] {
			if reason, err := u.skip(reqs[k], errs[k], it.Delivery, seen); err != nil || reason != "" {
				res[it.pos] = skipped(ctx, it, reason, err)
				continue
			}
			it.req = reqs[k]
			toCall = append(toCall, it)
		}
	}
	return toCall
}

// openTargets opens the config of every webhook to call with one lookup and
// returns the items that have a target, and those whose delivery ends here
// for a reason of ours (no secrets; secrets that could not be opened for
// the last time), to record as failed.
func (u *Dispatcher) openTargets(ctx context.Context, toCall []*batchItem, res []Result) (calls, ended []*batchItem) {
	if len(toCall) == 0 {
		return nil, nil
	}
	keys := make([]string, len(toCall))
	for i, it := range toCall {
		keys[i] = it.Delivery.WebhookKey
	}
	targets := u.Targets.DeliveryTargets(ctx, keys)
	for _, it := range toCall {
		t := targets[it.Delivery.WebhookKey]
		var nf *NotFoundError
		var none *NoSecretsError
		var sealed *UnopenableSecretsError
		switch {
		case errors.As(t.Err, &nf):
			res[it.pos] = skipped(ctx, it, "webhook no longer configured", nil)
		case errors.As(t.Err, &none):
			it.call, it.ours = CallResult{Reason: none.Error()}, true
			it.log.WarnContext(ctx, "pre-approval webhook cannot be called: no secrets", "reason", none.Error())
			res[it.pos] = Result{Outcome: Outcome{Kind: OutcomeFailed, Reason: none.Error()}}
			ended = append(ended, it)
		case errors.As(t.Err, &sealed):
			if u.giveUp(ctx, it, sealed.What+" could not be opened", t.Err, res) {
				ended = append(ended, it)
			}
		case t.Err != nil:
			if u.giveUp(ctx, it, "", fmt.Errorf("load delivery target %q: %w", it.Delivery.WebhookKey, t.Err), res) {
				ended = append(ended, it)
			}
		default:
			it.target = t.Target
			calls = append(calls, it)
		}
	}
	return calls, ended
}

// callAll calls the validators concurrently and returns the items whose
// delivery ended (delivered or failed for good), to record.
func (u *Dispatcher) callAll(ctx context.Context, calls []*batchItem, res []Result) []*batchItem {
	errs := make([]error, len(calls))
	u.each(len(calls), func(k int) { errs[k] = u.call(ctx, calls[k]) })
	var ended []*batchItem
	for k, it := range calls {
		if errs[k] != nil {
			if u.giveUp(ctx, it, "", errs[k], res) {
				ended = append(ended, it)
			}
			continue
		}
		out := u.outcome(ctx, it)
		res[it.pos] = Result{Outcome: out}
		if out.Kind != OutcomeRetry {
			ended = append(ended, it)
		}
	}
	return ended
}

func skipped(ctx context.Context, it *batchItem, reason string, err error) Result {
	if err != nil {
		return Result{Err: err}
	}
	it.log.InfoContext(ctx, "delivery skipped", "reason", reason)
	return Result{Outcome: Outcome{Kind: OutcomeSkipped, Reason: reason}}
}

// each runs f(0..n-1), at most Concurrency at once.
func (u *Dispatcher) each(n int, f func(int)) {
	limit := u.Concurrency
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for k := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(k)
		})
	}
	wg.Wait()
}

// skip says why no call should be made ("" to call), or the fault that
// stops this attempt. seen holds the deliveries of the batch already taken,
// so that a message received twice in one batch calls once.
func (u *Dispatcher) skip(r *PrivacyRequest, readErr error, d Delivery, seen map[string]bool) (string, error) {
	var nf *NotFoundError
	switch {
	case errors.As(readErr, &nf):
		return "privacy request not found", nil
	case readErr != nil:
		return "", readErr
	}
	if d.Run != r.Run {
		return "delivery of an earlier pre-approval run", nil
	}
	i := webhookIndex(r, d.WebhookKey)
	if i < 0 {
		return "webhook not in the request's snapshot", nil
	}
	switch w := r.Webhooks[i]; {
	case !w.Shadow() && r.Status != StatusAwaitingPreApproval && r.Status != StatusPending && r.Status != StatusPreApprovalNotEligible:
		// A shadow webhook is called whatever the status: it is there to be observed.
		return "privacy request is " + string(r.Status), nil
	case w.Reply != "":
		return "webhook already replied " + string(w.Reply), nil
	case w.Delivery == WebhookCalled:
		return "webhook already called", nil
	case w.Delivery == WebhookFailed:
		return "webhook delivery already failed", nil
	}
	k := DeliveryID(d.PrivacyRequestID, d.WebhookKey)
	if seen[k] {
		return "the same delivery twice in one batch", nil
	}
	seen[k] = true
	return "", nil
}

func webhookIndex(r *PrivacyRequest, key string) int {
	for i, w := range r.Webhooks {
		if w.Key == key {
			return i
		}
	}
	return -1
}

// call builds and posts one call; an error is a fault of ours (keys, encoding).
func (u *Dispatcher) call(ctx context.Context, it *batchItem) error {
	header, body, err := u.buildCall(it.req, it.Delivery, it.target, u.Now().UTC())
	if err != nil {
		return err
	}
	it.bodySum = sha256.Sum256(body)
	start := u.Now()
	it.call = u.Caller.Call(ctx, it.target.URL, header, body)
	it.latency = u.Now().Sub(start)
	made := it.call
	it.made = &made
	return nil
}

// outcome classifies a made call.
func (u *Dispatcher) outcome(ctx context.Context, it *batchItem) Outcome {
	res := it.call
	switch {
	case res.OK:
		it.log.InfoContext(ctx, "pre-approval webhook called", logkey.StatusCode, res.StatusCode)
		return Outcome{Kind: OutcomeDelivered}
	case res.Retryable && it.Number < u.MaxAttempts:
		delay := u.retryDelay(it.Number)
		it.log.InfoContext(ctx, "pre-approval webhook attempt failed; will retry", "reason", res.Reason, "retry_after", delay.String())
		return Outcome{Kind: OutcomeRetry, RetryAfter: delay, Reason: res.Reason}
	}
	it.log.WarnContext(ctx, "pre-approval webhook failed for good", "reason", res.Reason)
	return Outcome{Kind: OutcomeFailed, Reason: res.Reason}
}

// record writes the ends of one request's deliveries, deciding on r (the
// request as read for the batch) and, after a refused write, on a fresh read.
func (u *Dispatcher) record(ctx context.Context, r *PrivacyRequest, its []*batchItem) error {
	for range maxDeliveryRetries {
		w := deliveryWrite(r, its, u.Now().UTC().Truncate(time.Microsecond))
		if len(w.Activity) == 0 {
			return nil
		}
		err := u.Store.RecordDeliveries(ctx, w)
		var conflict *ConflictError
		if !errors.As(err, &conflict) {
			return err
		}
		if r, err = u.Store.Get(ctx, r.ID); err != nil {
			return err
		}
	}
	return &ConflictError{Msg: "too many concurrent changes to privacy request " + r.ID}
}

// deliveryWrite decides the write that records its on r. A successful call
// always gets its timeline entry (the call was made), and marks the webhook
// called unless a delivery is already recorded. A failure for good marks the
// webhook failed and moves an awaiting request to pending (an enforce
// webhook's only), unless the webhook was called or has replied meanwhile:
// then there is nothing to fail.
func deliveryWrite(r *PrivacyRequest, its []*batchItem, at time.Time) DeliveryWrite {
	w := DeliveryWrite{ID: r.ID, Run: r.Run, At: at}
	for _, it := range its {
		i := webhookIndex(r, it.Delivery.WebhookKey)
		if i < 0 || it.Delivery.Run != r.Run {
			continue // re-run while the call was made: the new run has its own deliveries
		}
		h := r.Webhooks[i]
		mark := DeliveryMark{Index: i, Key: h.Key, Attempts: it.Number}
		if it.call.OK {
			e := hookEntry(at, KindCalled, r, i)
			e.HTTPStatus, e.Latency, e.BodySHA256 = it.call.StatusCode, it.latency, it.bodySum[:]
			w.Activity = append(w.Activity, e)
			if h.Delivery == "" {
				mark.State = WebhookCalled
				w.Marks = append(w.Marks, mark)
			}
			continue
		}
		if h.Delivery != "" || h.Reply != "" {
			continue
		}
		mark.State = WebhookFailed
		e := hookEntry(at, KindFailed, r, i)
		e.Attempts, e.Reason = it.Number, TruncateReason(it.call.Reason)
		if it.ours {
			mark.Attempts = it.Number - 1 // the calls made; this attempt made none
			e.Kind, e.Attempts = KindNotCalled, 0
		}
		w.Marks = append(w.Marks, mark)
		w.Activity = append(w.Activity, e)
		if r.Status == StatusAwaitingPreApproval && !w.ToPending && !h.Shadow() {
			w.ToPending = true
			w.Activity = append(w.Activity, hookEntry(at, KindFailedToPending, r, i))
		}
	}
	return w
}

// retryDelay is backoff·2^(attempt-1), between half and all of it (jitter), capped.
func (u *Dispatcher) retryDelay(attempt int) time.Duration {
	d := u.Backoff
	for i := 1; i < attempt && d < MaxRetryDelay; i++ {
		d *= 2
	}
	d = min(d, MaxRetryDelay)
	rnd := u.Rand
	if rnd == nil {
		rnd = rand.Float64
	}
	return d/2 + time.Duration(rnd()*float64(d/2))
}

// callBody is the body of the call to a validator.
type callBody struct {
	PrivacyRequestID     string          `json:"privacy_request_id"`
	PrivacyRequestStatus Status          `json:"privacy_request_status"`
	Direction            string          `json:"direction"`
	CallbackType         string          `json:"callback_type"`
	Identity             callIdentity    `json:"identity"`
	PolicyAction         string          `json:"policy_action"`
	PrivacyRequest       callRequestBody `json:"privacy_request"`
	Timestamp            string          `json:"timestamp"`
}

type callIdentity struct {
	Email       *string `json:"email"`
	PhoneNumber *string `json:"phone_number"`
}

type callRequestBody struct {
	ID                 string     `json:"id"`
	Status             Status     `json:"status"`
	ExternalID         *string    `json:"external_id"`
	RequestedAt        string     `json:"requested_at"`
	IdentityVerifiedAt *string    `json:"identity_verified_at"`
	Policy             callPolicy `json:"policy"`
}

type callPolicy struct {
	Key   string     `json:"key"`
	Name  string     `json:"name"`
	Rules []callRule `json:"rules"`
}

type callRule struct {
	ActionType string `json:"action_type"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// buildCall returns the headers and body of the call to a validator.
func (u *Dispatcher) buildCall(r *PrivacyRequest, d Delivery, t DeliveryTarget, now time.Time) (http.Header, []byte, error) {
	b := callBody{
		PrivacyRequestID: r.ID, PrivacyRequestStatus: r.Status, Direction: "two_way", CallbackType: "pre_approval",
		Identity:     callIdentity{Email: optString(r.Identity.Email), PhoneNumber: optString(r.Identity.PhoneNumber)},
		PolicyAction: r.PolicyAction,
		PrivacyRequest: callRequestBody{
			ID: r.ID, Status: r.Status, ExternalID: optString(r.ExternalID), RequestedAt: FormatTime(r.CreatedAt),
			Policy: callPolicy{Key: r.PolicyKey, Name: PolicyNames[r.PolicyKey], Rules: []callRule{{ActionType: r.PolicyAction}}},
		},
		Timestamp: FormatTime(now),
	}
	if r.IdentityVerifiedAt != nil {
		b.PrivacyRequest.IdentityVerifiedAt = optString(FormatTime(*r.IdentityVerifiedAt))
	}
	if b.PrivacyRequest.Policy.Name == "" {
		b.PrivacyRequest.Policy.Name = r.PolicyKey
	}
	body, err := json.Marshal(b)
	if err != nil {
		return nil, nil, fmt.Errorf("encode call body: %w", err)
	}
	token, err := u.Tokens.MintReply(d.WebhookKey, r.ID, r.Run)
	if err != nil {
		return nil, nil, fmt.Errorf("mint reply token: %w", err)
	}
	h := http.Header{}
	for k, v := range t.Headers {
		h.Set(k, v)
	}
	eligible := "/privacy-request/" + r.ID + "/pre-approve/eligible"
	notEligible := "/privacy-request/" + r.ID + "/pre-approve/not-eligible"
	h.Set("Content-Type", "application/json")
	h.Set("Authorization", t.Authorization)
	h.Set("reply-to-eligible", eligible)
	h.Set("reply-to-not-eligible", notEligible)
	h.Set("reply-to-approve", eligible)
	h.Set("reply-to-deny", notEligible)
	h.Set("reply-to-token", token)
	h.Set("reply-to-base-url", u.BaseURL)
	h.Set("webhook-id", d.ID)
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	// One signature per secret kept (the new and the previous one after a
	// rotation), space-separated as Standard Webhooks says, so a validator
	// still holding the previous secret verifies the call until it updates.
	if len(t.SigningSecrets) > 0 && u.Sign != nil {
		sigs := make([]string, len(t.SigningSecrets))
		for i, secret := range t.SigningSecrets {
			if sigs[i], err = u.Sign(secret, d.ID, now, body); err != nil {
				return nil, nil, fmt.Errorf("sign call of webhook %q: %w", d.WebhookKey, err)
			}
		}
		h.Set("webhook-signature", strings.Join(sigs, " "))
	}
	return h, body, nil
}
