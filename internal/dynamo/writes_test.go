package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

// writeCounter counts the DynamoDB write operations a client sends: every
// call, and separately those refused by their condition (a lost race).
type writeCounter struct {
	calls, conditionFailed atomic.Int64
}

var writeOps = map[string]bool{"PutItem": true, "UpdateItem": true, "DeleteItem": true, "TransactWriteItems": true, "BatchWriteItem": true}

func (w *writeCounter) reset() { w.calls.Store(0); w.conditionFailed.Store(0) }

func (w *writeCounter) option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("countWrites",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if !writeOps[awsmiddleware.GetOperationName(ctx)] {
					return next.HandleInitialize(ctx, in)
				}
				w.calls.Add(1)
				out, md, err := next.HandleInitialize(ctx, in)
				var ccf *types.ConditionalCheckFailedException
				var tc *types.TransactionCanceledException
				if errors.As(err, &ccf) || errors.As(err, &tc) {
					w.conditionFailed.Add(1)
				}
				return out, md, err
			}), middleware.Before)
	})
}

// TestWritesPerAutoApprovedRequest measures DynamoDB writes per request that
// goes through the whole pipeline and is auto-approved by all M of its
// webhooks replying eligible: one PutItem to submit, one UpdateItem for the
// dispatcher's batch holding the request's M deliveries (the stream sends
// them in one SendMessageBatch), and one per reply, the last also approving.
//   - sequential (each validator replies after the dispatcher recorded its
//     calls, one after another): exactly M+2, nothing refused;
//   - concurrent (instant validators replying inside the call, all M at once,
//     before the dispatcher records the calls): at most M+3, the extra one
//     being the approval after two last replies raced; still nothing refused,
//     since replies and deliveries condition on separate fields.
//
// PREGATE_WRITES_REQUESTS scales the number of requests per M (default 20).
func TestWritesPerAutoApprovedRequest(t *testing.T) {
	nReq := envInt("PREGATE_WRITES_REQUESTS", 20)
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	var counter writeCounter
	store := dynamo.NewRequestStore(dynamodb.NewFromConfig(cfg, counter.option), s.Resources["RequestsTable"].Ref)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	for _, m := range []int{1, 3, 10} {
		var hooks staticWebhooks
		targets := staticTargets{}
		for i := range m {
			h := gate.Webhook{Key: fmt.Sprintf("w%d", i), Name: fmt.Sprintf("Hook %d", i)}
			hooks = append(hooks, h)
			targets[h.Key] = gate.DeliveryTarget{Webhook: h, URL: "https://validator.example/" + h.Key}
		}
		reqs := &gate.Requests{Store: store, Webhooks: hooks, RequireManualApproval: true, Now: time.Now, NewID: gate.NewRequestID, Log: log}
		replies := &gate.Replies{Store: store, Webhooks: hooks, Tokens: claimTokens{}, Now: time.Now, Log: log}
		validator := &replyingCaller{replies: replies}
		dispatcher := &gate.Dispatcher{Store: store, Targets: targets, Tokens: claimTokens{}, Caller: validator,
			BaseURL: "https://gate.example/api/v1", MaxAttempts: 3, Backoff: time.Second, Now: time.Now, Log: log}

		for _, concurrent := range []bool{false, true} {
			counter.reset()
			validator.replyInCall = concurrent
			ids := make([]string, 0, nReq)
			for range nReq {
				// One request per Submit: the figure is per request, not per batch.
				res, err := reqs.Submit(ctx, []gate.SubmitItem{{Identity: gate.Identity{Email: "a@example.com"}, PolicyKey: "default_access_policy"}})
				if err != nil || len(res.Succeeded) != 1 {
					t.Fatalf("submit: %+v %v", res, err)
				}
				id := res.Succeeded[0].ID
				ids = append(ids, id)
				var batch []gate.Attempt
				for _, h := range hooks {
					batch = append(batch, gate.Attempt{Delivery: gate.Delivery{ID: gate.DeliveryID(id, h.Key), PrivacyRequestID: id, WebhookKey: h.Key}, Number: 1})
				}
				before := counter.calls.Load()
				for _, r := range dispatcher.DeliverBatch(ctx, batch) {
					if r.Err != nil || r.Outcome.Kind != gate.OutcomeDelivered {
						t.Fatalf("m=%d deliver: %+v", m, r)
					}
				}
				// The batch of the request's M messages is one delivery write.
				if n := counter.calls.Load() - before; !concurrent && n != 1 {
					t.Fatalf("m=%d: the dispatcher's batch made %d writes, want 1", m, n)
				}
				if err := validator.errs(); err != nil {
					t.Fatalf("m=%d replies inside the calls: %v", m, err)
				}
				if !concurrent {
					for _, h := range hooks {
						if err := replies.Reply(ctx, id+"/"+h.Key, id, gate.WebhookEligible); err != nil {
							t.Fatalf("m=%d reply %s: %v", m, h.Key, err)
						}
					}
				}
			}
			calls, refused := counter.calls.Load(), counter.conditionFailed.Load()

			for _, id := range ids {
				r, err := store.Get(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				approvals := 0
				for _, a := range r.Activity {
					if a.Action() == gate.ActionApproved {
						approvals++
					}
				}
				for _, w := range r.Webhooks {
					if w.Delivery != gate.WebhookCalled || w.Reply != gate.WebhookEligible {
						t.Fatalf("m=%d concurrent=%v %s: webhook %+v", m, concurrent, id, w)
					}
				}
				if r.Status != gate.StatusApproved || approvals != 1 {
					t.Fatalf("m=%d concurrent=%v %s: status %s, %d approvals", m, concurrent, id, r.Status, approvals)
				}
			}

			perReq := float64(calls) / float64(nReq)
			if !concurrent {
				t.Logf("ddb_writes_per_approved_m%d=%.2f", m, perReq)
				if want := int64(nReq * (m + 2)); calls != want || refused != 0 {
					t.Fatalf("m=%d sequential: %d writes (%d refused) for %d requests, want %d", m, calls, refused, nReq, want)
				}
				continue
			}
			t.Logf("ddb_writes_per_approved_m%d_concurrent=%.2f (refused by condition: %.2f per request)", m, perReq, float64(refused)/float64(nReq))
			if limit := int64(nReq * (m + 3)); calls > limit || refused != 0 {
				t.Fatalf("m=%d concurrent: %d writes (%d refused) for %d requests, want at most %d and none refused", m, calls, refused, nReq, limit)
			}
		}
	}
}

// staticTargets gives each webhook key its target.
type staticTargets map[string]gate.DeliveryTarget

func (s staticTargets) DeliveryTargets(_ context.Context, keys []string) map[string]gate.TargetResult {
	out := map[string]gate.TargetResult{}
	for _, k := range keys {
		out[k] = gate.TargetResult{Target: s[k]}
	}
	return out
}

// Mint makes the "<request id>/<webhook key>" tokens claimTokens accepts.
func (claimTokens) MintReply(webhookKey, id string, _ int) (string, error) {
	return id + "/" + webhookKey, nil
}

// replyingCaller is an instant validator: 200 to every call and, when
// replyInCall, its eligible reply sent before answering the call.
type replyingCaller struct {
	replies     *gate.Replies
	replyInCall bool
	mu          sync.Mutex
	failures    []error
}

func (c *replyingCaller) Call(ctx context.Context, _ string, h http.Header, _ []byte) gate.CallResult {
	if c.replyInCall {
		if err := c.replies.Reply(ctx, h.Get("reply-to-token"), strings.Split(h.Get("reply-to-token"), "/")[0], gate.WebhookEligible); err != nil {
			c.mu.Lock()
			c.failures = append(c.failures, err)
			c.mu.Unlock()
		}
	}
	return gate.CallResult{OK: true, StatusCode: 200}
}

func (c *replyingCaller) errs() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := errors.Join(c.failures...)
	c.failures = nil
	return err
}
