package dynamo_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

type staticWebhooks []gate.Webhook

func (s staticWebhooks) ListWebhooks(context.Context) ([]gate.Webhook, error) { return s, nil }

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

// TestReplyRaceAgainstEmulator is the race: every reply of every
// request fired at once, some twice, some racing an admin decision.
// PREGATE_RACE_REQUESTS / PREGATE_RACE_ROUNDS scale it (defaults keep make test quick).
func TestReplyRaceAgainstEmulator(t *testing.T) {
	nReq, rounds := envInt("PREGATE_RACE_REQUESTS", 40), envInt("PREGATE_RACE_ROUNDS", 2)
	const nHooks = 5
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	store := dynamo.NewRequestStore(dynamodb.NewFromConfig(cfg), s.Resources["RequestsTable"].Ref)
	var hooks staticWebhooks
	for i := range nHooks {
		hooks = append(hooks, gate.Webhook{Key: "h" + strconv.Itoa(i), Name: "Hook " + strconv.Itoa(i)})
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reqs := &gate.Requests{Store: store, Webhooks: hooks, RequireManualApproval: true, Now: time.Now, NewID: gate.NewRequestID, Log: log}
	replies := &gate.Replies{Store: store, Webhooks: hooks, Tokens: claimTokens{}, Now: time.Now, Log: log}
	rng := rand.New(rand.NewPCG(7, 8))

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
			mu       sync.Mutex
			acked    map[string]gate.WebhookState
			admin    string
			expectNE bool
		}
		outcomes := make([]*outcome, len(ids))
		var wg sync.WaitGroup
		var replyErrors atomic.Int64
		var firstError atomic.Value
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
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						// A validator retries a reply that failed for a reason other
						// than a refusal, as it would on a 5xx: 1,200 connections at
						// once overrun moto's listen backlog (connection resets).
						var err error
						for range 10 {
							if err = replies.Reply(ctx, id+"/"+h.Key, id, answer); err == nil || isRefusal(err) {
								break
							}
							replyErrors.Add(1)
							firstError.CompareAndSwap(nil, err.Error())
						}
						if err == nil {
							o.mu.Lock()
							o.acked[h.Key] = answer
							o.mu.Unlock()
						}
					}()
				}
			}
			if rng.IntN(10) == 0 { // 10% get an admin decision at the same moment
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					ev := reqs.Approve
					if rng.IntN(2) == 0 {
						ev = reqs.Deny
					}
					res, err := ev(ctx, gate.Decision{IDs: []string{id}, Actor: "admin"})
					if err == nil && len(res.Succeeded) == 1 {
						o.mu.Lock()
						o.admin = string(res.Succeeded[0].Status)
						o.mu.Unlock()
					}
				}()
			}
		}
		close(start)
		wg.Wait()

		var decidedTwice, lost, wrongStatus int
		for i, id := range ids {
			r, err := store.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			o := outcomes[i]
			decisions := 0
			for _, e := range r.Activity {
				if e.Action == gate.ActionApproved || e.Action == gate.ActionDenied {
					decisions++
				}
			}
			if decisions > 1 {
				decidedTwice++
			}
			for _, w := range r.Webhooks {
				if a, ok := o.acked[w.Key]; ok && w.Reply != a {
					lost++
				}
			}
			// Decided requests never move, so an admin decision that won is final;
			// otherwise the replies decide: any not eligible flags it, all eligible approves.
			want := gate.StatusApproved
			switch {
			case o.admin != "":
				want = gate.Status(o.admin)
			case o.expectNE:
				want = gate.StatusPreApprovalNotEligible
			}
			if r.Status != want {
				wrongStatus++
			}
			if decisions == 0 && r.Status != gate.StatusPreApprovalNotEligible {
				t.Errorf("request %s: status %s with no decision entry", id, r.Status)
			}
		}
		if n := replyErrors.Load(); n > 0 {
			t.Logf("round %d: %d reply attempts failed in transport and were retried (first: %v)", round, n, firstError.Load())
		}
		t.Logf("round %d: %d requests x %d webhooks: decided twice %d, lost replies %d, wrong status %d", round, len(ids), nHooks, decidedTwice, lost, wrongStatus)
		if decidedTwice+lost+wrongStatus > 0 {
			t.Fatalf("round %d: decided twice %d, lost replies %d, wrong status %d", round, decidedTwice, lost, wrongStatus)
		}
	}
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
