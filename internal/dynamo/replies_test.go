package dynamo_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/queue"
	"github.com/pregate/pregate/internal/stream"
)

type staticWebhooks []gate.Webhook

func (s staticWebhooks) ListWebhooks(context.Context) (gate.WebhookConfig, error) {
	return gate.WebhookConfig{Version: 1, Webhooks: s}, nil
}

func (s staticWebhooks) WebhooksSince(context.Context, int64) ([]gate.Webhook, error) { return s, nil }

// claimTokens treats "<request id>/<webhook key>" as a valid token.
type claimTokens struct{}

func (claimTokens) VerifyReply(token string) (gate.ReplyClaims, error) {
	for i := len(token) - 1; i >= 0; i-- {
		if token[i] == '/' {
			return gate.ReplyClaims{PrivacyRequestID: token[:i], WebhookKey: token[i+1:]}, nil
		}
	}
	return gate.ReplyClaims{}, gate.ErrReplyTokenInvalid
}

// TestReplyRaceAgainstEmulator is the reply race at full size (200
// requests x 5 webhooks, 5 rounds; 40 x 2 under -short): every reply of every
// request fired at once, 20% of them twice, 10% of the requests getting an
// admin decision and 10% a delivery failing for good (the move to pending)
// at the same moment, and the reconciler running throughout. After each round it checks the table (decided at most
// once, never moved after, no lost reply, the status the replies imply) and
// the approved queue, fed every stream record twice: exactly one message per
// approved request. PREGATE_RACE_REQUESTS / PREGATE_RACE_ROUNDS override the sizes.
func TestReplyRaceAgainstEmulator(t *testing.T) {
	nReq, rounds := 200, 5
	if testing.Short() {
		nReq, rounds = 40, 2
	}
	nReq, rounds = envInt("PREGATE_RACE_REQUESTS", nReq), envInt("PREGATE_RACE_ROUNDS", rounds)
	const nHooks = 5
	began := time.Now()
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	// Every waiting request is due at once, so the reconciler races everything.
	store := dynamo.NewRequestStore(dynamodb.NewFromConfig(cfg), s.Resources["RequestsTable"].Ref).WithReconcileAfter(0)
	var hooks staticWebhooks
	targets := staticTargets{}
	for i := range nHooks {
		h := gate.Webhook{Key: "h" + strconv.Itoa(i), Name: "Hook " + strconv.Itoa(i)}
		hooks = append(hooks, h)
		targets[h.Key] = gate.DeliveryTarget{Webhook: h, URL: "https://validator.example/" + h.Key}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reqs := &gate.Requests{Store: store, Webhooks: hooks, RequireManualApproval: true, Now: time.Now, NewID: gate.NewRequestID, Log: log}
	replies := &gate.Replies{Store: store, Webhooks: hooks, Tokens: claimTokens{}, Now: time.Now, Log: log}
	approvedQueue := queue.NewApprovedQueue(sqs.NewFromConfig(cfg), s.Resources["ApprovedQueue"].Ref)
	rec := &gate.Reconciler{Store: store, Replies: replies, Deliveries: discardDeliveries{}, DispatchGrace: time.Hour, MinBackoff: 200 * time.Millisecond,
		Publisher: &gate.Publisher{Store: store, Queue: approvedQueue, Now: time.Now, Log: log}, Now: time.Now, Log: log}
	var stop atomic.Bool
	dispatcher := &gate.Dispatcher{Store: store, Targets: targets, Tokens: claimTokens{}, Caller: downCaller{},
		BaseURL: "https://gate.example/api/v1", MaxAttempts: 1, Backoff: time.Second, Now: time.Now, Log: log}
	approvedURL := s.Resources["ApprovedQueue"].Ref
	approvedHandler := &stream.Approved{Queue: approvedQueue, Store: store, Log: log}
	records := awstest.NewStreamReader(cfg, s)
	rng := rand.New(rand.NewPCG(7, 8))
	var total raceFigures

	for round := range rounds {
		items := make([]gate.SubmitItem, 0, nReq)
		var ids []string
		for len(ids) < nReq {
			items = items[:0]
			for range min(gate.MaxBulk, nReq-len(ids)) {
				items = append(items, gate.SubmitItem{Identity: gate.Identity{Email: "a@example.com"}, PolicyKey: "default_access_policy"})
			}
			res, err := reqs.Submit(ctx, items)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Succeeded {
				ids = append(ids, r.ID)
			}
		}
		// Per request: which answers were acknowledged, and whether an admin decided.
		type outcome struct {
			mu    sync.Mutex
			acked map[string]gate.WebhookState
			admin string
			// adminUnsure: the decision failed in transport before its definite
			// answer, so it may have been written (the timeline then says so).
			adminUnsure bool
			expectNE    bool
		}
		outcomes := make([]*outcome, len(ids))
		var wg sync.WaitGroup
		var f raceFigures
		start := make(chan struct{})
		for i, id := range ids {
			o := &outcome{acked: map[string]gate.WebhookState{}}
			outcomes[i] = o
			for _, h := range hooks {
				answer := gate.WebhookEligible
				if rng.IntN(20) == 0 {
					answer = gate.WebhookNotEligible
					o.expectNE = true
				}
				copies := 1
				if rng.IntN(5) == 0 {
					copies = 2 // 20% duplicated
				}
				for range copies {
					wg.Go(func() {
						<-start
						// A validator retries a reply that failed for a reason other
						// than a refusal, as it would on a 5xx: 1,200 connections at
						// once overrun moto's listen backlog (connection resets).
						err := f.untilDefinite("reply "+id+"/"+h.Key, func() error { return replies.Reply(ctx, id+"/"+h.Key, id, answer) }, isRefusal)
						if err == nil {
							o.mu.Lock()
							o.acked[h.Key] = answer
							o.mu.Unlock()
						}
					})
				}
			}
			if rng.IntN(10) == 0 { // 10% get an admin decision at the same moment
				ev := reqs.Approve
				if rng.IntN(2) == 0 {
					ev = reqs.Deny
				}
				wg.Go(func() {
					<-start
					var res gate.BulkResult
					retried := false
					err := f.untilDefinite("admin decision on "+id, func() error {
						var err error
						res, err = ev(ctx, gate.Decision{IDs: []string{id}, Actor: "admin"})
						retried = retried || err != nil
						return err
					}, func(error) bool { return false })
					if err != nil {
						return
					}
					o.mu.Lock()
					defer o.mu.Unlock()
					if len(res.Succeeded) == 1 {
						o.admin = string(res.Succeeded[0].Status)
					}
					o.adminUnsure = retried && o.admin == ""
				})
			}
			if rng.IntN(10) == 0 { // 10% get a delivery failing for good at the same moment
				key := hooks[rng.IntN(nHooks)].Key
				wg.Go(func() {
					<-start
					batch := []gate.Attempt{{Delivery: gate.Delivery{ID: gate.DeliveryID(id, key), PrivacyRequestID: id, WebhookKey: key}, Number: 1}}
					_ = f.untilDefinite("delivery failure on "+id, func() error { return dispatcher.DeliverBatch(ctx, batch)[0].Err }, func(error) bool { return false })
					f.deliveryFailures.Add(1)
				})
			}
		}
		// The reconciler runs meanwhile: its approvals race the replies' and the admin's.
		reconcilerDone := make(chan struct{})
		go func() {
			defer close(reconcilerDone)
			<-start
			for !stop.Load() {
				res, err := rec.Run(ctx)
				if err != nil || res.Failed > 0 {
					f.transportRetries.Add(1) // the next run starts over, as the next scheduled run would
				}
				f.reconcilerApproved.Add(int64(res.Approved))
				time.Sleep(200 * time.Millisecond) // a run per 200 ms: racing, without saturating the emulator
			}
		}()
		close(start)
		wg.Wait()
		stop.Store(true)
		<-reconcilerDone
		stop.Store(false)

		approved := map[string]bool{}
		for i, id := range ids {
			r, err := store.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			o := outcomes[i]
			decisions, movedAfter, first := 0, 0, -1
			for k, e := range r.Activity {
				switch e.Action() {
				case gate.ActionApproved, gate.ActionDenied:
					decisions++
					if first < 0 {
						first = k
						continue
					}
				}
				if e.Action() == gate.ActionStatusChanged && first < 0 {
					f.toPending++ // the failed delivery moved it before it was decided
				}
				if first >= 0 && k > first && changesStatus(e.Action()) {
					movedAfter++
				}
			}
			if decisions > 1 {
				f.decidedTwice++
			}
			if movedAfter > 0 {
				f.movedAgain++
			}
			for _, w := range r.Webhooks {
				if a, ok := o.acked[w.Key]; ok && (w.Reply != a || w.RepliedAt == nil || w.RepliedAt.Before(r.CreatedAt)) {
					f.lost++
				}
			}
			// Decided requests never move, so an admin decision that won is final;
			// otherwise the replies decide: any not eligible flags it, all
			// eligible approves, whether or not a failed delivery moved it to pending.
			want := gate.StatusApproved
			switch {
			case o.admin != "":
				want = gate.Status(o.admin)
			case o.adminUnsure && first >= 0 && r.Activity[first].Actor == "admin":
				want = gate.Status(r.Activity[first].Action()) // the approved/denied actions are the statuses' names
			case o.expectNE:
				want = gate.StatusPreApprovalNotEligible
			}
			if r.Status != want {
				f.wrongStatus++
				t.Logf("request %s: status %s, want %s (admin %q unsure %v, acked %v)", id, r.Status, want, o.admin, o.adminUnsure, o.acked)
			}
			if r.Status == gate.StatusPending || r.Status == gate.StatusAwaitingPreApproval {
				f.stuck++
			}
			if decisions == 0 && r.Status != gate.StatusPreApprovalNotEligible {
				t.Errorf("request %s: status %s with no decision entry", id, r.Status)
			}
			approved[id] = r.Status == gate.StatusApproved
		}

		// The stream handler, fed every record of the round twice, queues
		// exactly one message per approved request and none for the others.
		recs, err := records.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			for _, rec := range recs {
				if err := approvedHandler.Handle(ctx, rec); err != nil {
					t.Fatal(err)
				}
			}
		}
		perID := map[string]int{}
		for _, m := range awstest.Drain(t, cfg, approvedURL) {
			var b queue.ApprovedBody
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &b); err != nil {
				t.Fatal(err)
			}
			perID[b.PrivacyRequestID]++
			f.approvedMessages++
		}
		for _, id := range ids {
			if n := perID[id]; approved[id] && n != 1 || !approved[id] && n != 0 {
				f.wrongMessages++
				t.Logf("request %s (approved %v): %d approved messages", id, approved[id], n)
			}
			if approved[id] {
				f.approved++
			}
		}

		t.Logf("round %d: %s", round, f.String(len(ids), nHooks))
		if msg := f.failures(); msg != "" {
			t.Fatalf("round %d: %s", round, msg)
		}
		total.add(&f)
	}
	t.Logf("race: rounds=%d %s runtime=%s", rounds, total.String(nReq*rounds, nHooks), time.Since(began).Round(time.Second))
}

// raceFigures are the counts one round of the race checks.
type raceFigures struct {
	decidedTwice, movedAgain, lost, wrongStatus, stuck, approved, approvedMessages, wrongMessages, toPending int
	// transportRetries counts attempts failed in transport and retried;
	// undefined the replies, decisions and deliveries that never got a definite answer.
	transportRetries, undefined, deliveryFailures, reconcilerApproved atomic.Int64
	firstUndefined                                                    atomic.Value
}

func (f *raceFigures) add(o *raceFigures) {
	f.decidedTwice += o.decidedTwice
	f.movedAgain += o.movedAgain
	f.lost += o.lost
	f.wrongStatus += o.wrongStatus
	f.stuck += o.stuck
	f.approved += o.approved
	f.approvedMessages += o.approvedMessages
	f.wrongMessages += o.wrongMessages
	f.toPending += o.toPending
	f.transportRetries.Add(o.transportRetries.Load())
	f.undefined.Add(o.undefined.Load())
	f.deliveryFailures.Add(o.deliveryFailures.Load())
	f.reconcilerApproved.Add(o.reconcilerApproved.Load())
}

func (f *raceFigures) String(nReq, nHooks int) string {
	return fmt.Sprintf("requests=%d webhooks=%d decided_twice=%d moved_again=%d lost_replies=%d wrong_status=%d stuck=%d "+
		"approved=%d approved_messages=%d wrong_message_counts=%d delivery_failures=%d moved_to_pending=%d approved_by_reconciler=%d transport_retries=%d no_definite_answer=%d",
		nReq, nHooks, f.decidedTwice, f.movedAgain, f.lost, f.wrongStatus, f.stuck, f.approved, f.approvedMessages, f.wrongMessages,
		f.deliveryFailures.Load(), f.toPending, f.reconcilerApproved.Load(), f.transportRetries.Load(), f.undefined.Load())
}

// failures says what went wrong, "" when nothing did.
func (f *raceFigures) failures() string {
	msg := ""
	if f.decidedTwice+f.movedAgain+f.lost+f.wrongStatus+f.stuck+f.wrongMessages > 0 {
		msg = fmt.Sprintf("decided twice %d, moved again %d, lost replies %d, wrong status %d, stuck %d, wrong approved-message counts %d",
			f.decidedTwice, f.movedAgain, f.lost, f.wrongStatus, f.stuck, f.wrongMessages)
	}
	if n := f.undefined.Load(); n > 0 {
		msg += fmt.Sprintf("; %d calls never got a definite answer (first: %v)", n, f.firstUndefined.Load())
	}
	return msg
}

// untilDefinite calls op until it succeeds or fails with a definite answer,
// backing off between attempts failed in transport (moto resets connections
// under load) as a validator or an admin would retry a 5xx, and returns the
// last error. An op that never gets a definite answer is counted (the round
// fails) under what.
func (f *raceFigures) untilDefinite(what string, op func() error, definite func(error) bool) error {
	delay := 20 * time.Millisecond
	var err error
	for range 30 {
		if err = op(); err == nil || definite(err) {
			return err
		}
		f.transportRetries.Add(1)
		time.Sleep(delay/2 + rand.N(delay/2))
		delay = min(2*delay, 2*time.Second)
	}
	f.undefined.Add(1)
	f.firstUndefined.CompareAndSwap(nil, what+": "+err.Error())
	return err
}

// changesStatus tells the timeline actions that move a request.
func changesStatus(action string) bool {
	switch action {
	case gate.ActionApproved, gate.ActionDenied, gate.ActionNotEligible, gate.ActionStatusChanged, gate.ActionIdentityVerified:
		return true
	}
	return false
}

// downCaller is a validator that is down for good: every delivery fails.
type downCaller struct{}

func (downCaller) Call(context.Context, string, http.Header, []byte) gate.CallResult {
	return gate.CallResult{StatusCode: 503, Reason: "HTTP 503"}
}

// isRefusal tells the gate's answers (4xx) from transport failures.
func isRefusal(err error) bool {
	var bad *gate.BadRequestError
	var nf *gate.NotFoundError
	var fb *gate.ForbiddenError
	return errors.As(err, &bad) || errors.As(err, &nf) || errors.As(err, &fb)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// discardDeliveries is a dispatch queue nobody reads: the race's deliveries
// are made by hand.
type discardDeliveries struct{}

func (discardDeliveries) EnqueueDeliveries(context.Context, []gate.Delivery) error { return nil }
