package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
// is submitted and then auto-approved by all M of its webhooks replying
// eligible: with sequential replies it is exactly M+1 (one PutItem to create,
// one conditional UpdateItem per reply, the last one also approving). With
// all M replies at once, lost races add refused writes, but the successful
// writes are still M+1 and every request is approved exactly once.
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
		for i := range m {
			hooks = append(hooks, gate.Webhook{Key: fmt.Sprintf("w%d", i), Name: fmt.Sprintf("Hook %d", i)})
		}
		reqs := &gate.Requests{Store: store, Webhooks: hooks, RequireManualApproval: true, Now: time.Now, NewID: gate.NewRequestID, Log: log}
		replies := &gate.Replies{Store: store, Webhooks: hooks, Tokens: claimTokens{}, Now: time.Now, Log: log}

		for _, concurrent := range []bool{false, true} {
			counter.reset()
			ids := make([]string, 0, nReq)
			for range nReq {
				// One request per Submit: the figure is per request, not per batch.
				res, err := reqs.Submit(ctx, []gate.SubmitItem{{Identity: gate.Identity{Email: "a@example.com"}, PolicyKey: "default_access_policy"}})
				if err != nil || len(res.Succeeded) != 1 {
					t.Fatalf("submit: %+v %v", res, err)
				}
				id := res.Succeeded[0].ID
				ids = append(ids, id)
				if !concurrent {
					for _, h := range hooks {
						if err := replies.Reply(ctx, id+"/"+h.Key, id, gate.WebhookEligible); err != nil {
							t.Fatalf("m=%d reply %s: %v", m, h.Key, err)
						}
					}
					continue
				}
				var wg sync.WaitGroup
				errs := make([]error, m)
				for i, h := range hooks {
					wg.Go(func() { errs[i] = replies.Reply(ctx, id+"/"+h.Key, id, gate.WebhookEligible) })
				}
				wg.Wait()
				if err := errors.Join(errs...); err != nil {
					t.Fatalf("m=%d concurrent replies: %v", m, err)
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
					if a.Action == gate.ActionApproved {
						approvals++
					}
				}
				if r.Status != gate.StatusApproved || approvals != 1 || r.Version != int64(m) {
					t.Fatalf("m=%d concurrent=%v %s: status %s, %d approvals, version %d", m, concurrent, id, r.Status, approvals, r.Version)
				}
			}

			perReq := float64(calls) / float64(nReq)
			want := int64(nReq * (m + 1))
			if !concurrent {
				t.Logf("ddb_writes_per_approved_m%d=%.2f", m, perReq)
				if calls != want || refused != 0 {
					t.Fatalf("m=%d sequential: %d writes (%d refused) for %d requests, want %d", m, calls, refused, nReq, want)
				}
				continue
			}
			t.Logf("ddb_writes_per_approved_m%d_concurrent=%.2f (refused by condition: %.2f per request)", m, perReq, float64(refused)/float64(nReq))
			if calls-refused != want {
				t.Fatalf("m=%d concurrent: %d writes of which %d refused for %d requests, want %d successful", m, calls, refused, nReq, want)
			}
		}
	}
}
