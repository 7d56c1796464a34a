package dynamo_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

// The largest item the API lets a request become (docs/storage.md,
// "Largest item"): the bounds TestLargestRequestItem holds it to.
const (
	largestItemASCII = 136 * 1024 // text of one byte per character
	largestItemUTF8  = 264 * 1024 // every free-text character 4 bytes in UTF-8
)

// TestLargestRequestItem drives the longest request life the API allows
// through the gate's own use cases against the emulator, every field at its
// limit: 50 webhooks with 100-character keys and 200-character names, a new
// set of them for each of the 4 pre-approval runs (the first and 3
// re-runs), every call failing for good with a long reason, 49 of the 50
// replying eligible, and at the end a denial with a 1,000-character reason.
// After every write it measures the stored item by DynamoDB's size rules,
// and it checks the timeline reads back with the exact messages.
//
// It takes minutes on the emulator (hundreds of writes to a large item), so
// it runs only with PREGATE_LARGEST_ITEM=1:
//
//	PREGATE_LARGEST_ITEM=1 go test -run TestLargestRequestItem -v -timeout 30m ./internal/dynamo/
func TestLargestRequestItem(t *testing.T) {
	if os.Getenv("PREGATE_LARGEST_ITEM") != "1" {
		t.Skip("set PREGATE_LARGEST_ITEM=1 to drive the longest request life (minutes)")
	}
	s, cfg := awstest.Stack(t)
	for _, tc := range []struct {
		name  string
		char  string // the character free text is made of
		bound int
	}{
		{"ascii", "a", largestItemASCII},
		{"utf8-4-byte", "😀", largestItemUTF8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			max, size := largestLife(t, s, cfg, tc.char)
			t.Logf("largest item (%s): %d bytes (%.1f KB), the final one %d bytes", tc.name, max, float64(max)/1024, size)
			if max > tc.bound {
				t.Fatalf("largest item %d bytes, over the documented %d", max, tc.bound)
			}
		})
	}
}

func largestLife(t *testing.T, s *stack.Stack, cfg aws.Config, char string) (largest, last int) {
	ctx := context.Background()
	began := time.Now()
	db := dynamodb.NewFromConfig(cfg)
	table := s.Resources["RequestsTable"].Ref
	store := dynamo.NewRequestStore(db, table)
	text := func(n int) string { return strings.Repeat(char, n) }
	const runs, m = gate.MaxPreApprovalReruns + 1, 50
	sets := make([]staticWebhooks, runs)
	targets := staticTargets{}
	for r := range runs {
		for i := range m {
			tag := fmt.Sprintf("%d-%02d", r, i)
			h := gate.Webhook{Key: tag + strings.Repeat("k", gate.MaxKeyLen-len(tag)), Name: text(gate.MaxNameLen-len(tag)) + tag}
			sets[r] = append(sets[r], h)
			targets[h.Key] = gate.DeliveryTarget{Webhook: h, URL: "https://validator.example/" + h.Key}
		}
	}
	hooks := &switchedWebhooks{set: sets[0]}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reqs := &gate.Requests{Store: store, Webhooks: hooks, RequireManualApproval: true, Now: time.Now, NewID: gate.NewRequestID, Log: log}
	replies := &gate.Replies{Store: store, Webhooks: hooks, Tokens: runTokens{}, Now: time.Now, Log: log}
	const attempts = 10
	reason := strings.Repeat("r", 3*gate.MaxReasonLen) // cut to MaxReasonLen when stored
	dispatcher := &gate.Dispatcher{Store: store, Targets: targets, Tokens: runTokens{}, Caller: failingCaller{reason: reason},
		BaseURL: "https://gate.example/api/v1", MaxAttempts: attempts, Backoff: time.Second, Now: time.Now, Log: log}

	measure := func(id string) {
		t.Helper()
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}}})
		if err != nil {
			t.Fatal(err)
		}
		last = dynamo.ItemSize(out.Item)
		largest = max(largest, last)
	}
	res, err := reqs.Submit(ctx, []gate.SubmitItem{{
		Identity:   gate.Identity{Email: strings.Repeat("e", gate.MaxEmailLen-len("@example.com")) + "@example.com", PhoneNumber: "+" + strings.Repeat("9", gate.MaxPhoneLen-1)},
		PolicyKey:  "default_erasure_policy",
		ExternalID: text(gate.MaxExternalIDLen),
	}})
	if err != nil || len(res.Succeeded) != 1 {
		t.Fatalf("submit: %+v %v", res, err)
	}
	id := res.Succeeded[0].ID
	measure(id)
	var want []string // every message the timeline must show, in order within a write
	want = append(want, "Triggered pre-approval webhooks: "+joinNames(sets[0]))
	for r := range runs {
		if r > 0 {
			hooks.set = sets[r]
			res, err := reqs.RetryPreApproval(ctx, gate.Decision{IDs: []string{id}, Actor: "admin"})
			if err != nil || len(res.Succeeded) != 1 {
				t.Fatalf("re-run %d: %+v %v", r, res, err)
			}
			measure(id)
			want = append(want, "Status changed from pending to awaiting_pre_approval: pre-approval re-run", "Triggered pre-approval webhooks: "+joinNames(sets[r]))
		}
		batch := make([]gate.Attempt, m)
		for i, h := range sets[r] {
			batch[i] = gate.Attempt{Delivery: gate.Delivery{ID: gate.RunDeliveryID(id, h.Key, r), PrivacyRequestID: id, WebhookKey: h.Key, Run: r}, Number: attempts}
		}
		for _, res := range dispatcher.DeliverBatch(ctx, batch) {
			if res.Err != nil || res.Outcome.Kind != gate.OutcomeFailed {
				t.Fatalf("run %d delivery: %+v", r, res)
			}
		}
		measure(id)
		for i, h := range sets[r] {
			want = append(want, fmt.Sprintf("Pre-approval webhook '%s' failed after %d attempts: %s", h.Name, attempts, gate.TruncateReason(reason)))
			if i == 0 {
				want = append(want, "Status changed from awaiting_pre_approval to pending")
			}
		}
		for _, h := range sets[r][:m-1] {
			if err := replies.Reply(ctx, runTokens{}.token(id, h.Key, r), id, gate.WebhookEligible); err != nil {
				t.Fatalf("run %d reply of %s: %v", r, h.Key, err)
			}
			want = append(want, fmt.Sprintf("Pre-approval webhook '%s' responded: eligible", h.Name))
		}
		measure(id) // the item only grows within a run
		t.Logf("run %d done at %s: %d bytes", r, time.Since(began).Round(time.Millisecond), last)
	}
	deny := text(gate.MaxDenyReasonLen)
	if res, err := reqs.Deny(ctx, gate.Decision{IDs: []string{id}, Actor: "admin", Reason: deny}); err != nil || len(res.Succeeded) != 1 {
		t.Fatalf("deny: %+v %v", res, err)
	}
	measure(id)
	want = append(want, deny)

	// The timeline reads back exactly (the dispatcher records one batch's
	// entries in its own order: compare as a multiset with the order of runs).
	r, err := store.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, e := range r.Activity {
		got[e.Message]++
	}
	for _, w := range want {
		if got[w] == 0 {
			t.Fatalf("timeline lacks %.120q…; it has %d entries", w, len(r.Activity))
		}
		got[w]--
	}
	for msg, n := range got {
		if n > 0 {
			t.Errorf("unexpected entry %.120q ×%d", msg, n)
		}
	}
	return largest, last
}

func joinNames(hooks []gate.Webhook) string {
	names := make([]string, len(hooks))
	for i, h := range hooks {
		names[i] = h.Name
	}
	return strings.Join(names, ", ")
}

// switchedWebhooks is the configured set, changed between runs.
type switchedWebhooks struct {
	mu  sync.Mutex
	set []gate.Webhook
}

func (s *switchedWebhooks) ListWebhooks(context.Context) ([]gate.Webhook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.set, nil
}

// runTokens are "<request id>/<webhook key>/<run>".
type runTokens struct{}

func (runTokens) token(id, key string, run int) string {
	return id + "/" + key + "/" + strconv.Itoa(run)
}

func (t runTokens) MintReply(key, id string, run int) (string, error) {
	return t.token(id, key, run), nil
}

func (runTokens) VerifyReply(token string) (gate.ReplyClaims, error) {
	parts := strings.Split(token, "/")
	if len(parts) != 3 {
		return gate.ReplyClaims{}, gate.ErrReplyTokenInvalid
	}
	run, err := strconv.Atoi(parts[2])
	if err != nil {
		return gate.ReplyClaims{}, gate.ErrReplyTokenInvalid
	}
	return gate.ReplyClaims{PrivacyRequestID: parts[0], WebhookKey: parts[1], Run: run}, nil
}

// failingCaller fails every call for good, with a long reason.
type failingCaller struct{ reason string }

func (c failingCaller) Call(context.Context, string, http.Header, []byte) gate.CallResult {
	return gate.CallResult{StatusCode: 503, Reason: c.reason}
}
