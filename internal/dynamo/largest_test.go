package dynamo_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
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

// largestItemBound is the largest item the API lets a request become
// (docs/storage.md, "Largest item"), the request's own item and each
// archived run alike.
const largestItemBound = 64 * 1024

// TestLargestRequestItem drives the longest request life the API allows
// through the gate's own use cases against the emulator, every field at its
// limit and every free-text character 4 bytes long in UTF-8 (the largest
// any text of that many characters can be), the admin's name too: 50 webhooks with 100-character
// keys and 200-character names, a new set of them for each of the 4
// pre-approval runs (the first and 3 re-runs), every call failing for good
// with a long reason, 49 of the 50 replying eligible (in runs 1 and 3; one
// in runs 0 and 2, whose items are no larger), and at the end a
// denial with a 1,000-character reason; or, instead of the denial, an
// approval naming 49 of the 50 webhooks removed from the configuration,
// then published. After every step it measures the stored items (the request's
// and its archived runs) by DynamoDB's size rules, and it checks that the
// timeline reads back with the exact messages.
func TestLargestRequestItem(t *testing.T) {
	s, cfg := awstest.Stack(t)
	began := time.Now()
	largest, last := largestLife(t, s, cfg, "😀")
	t.Logf("largest item: %d bytes (%.1f KB), the final one %d bytes, in %s", largest, float64(largest)/1024, last, time.Since(began).Round(time.Millisecond))
	if largest > largestItemBound {
		t.Fatalf("largest item %d bytes, over the documented %d", largest, largestItemBound)
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
	actor := text(gate.MaxActorLen) // the admin's name, on the timeline and as reviewer
	const attempts = 10
	reason := text(3 * gate.MaxReasonLen) // cut when stored
	dispatcher := &gate.Dispatcher{Store: store, Targets: targets, Tokens: runTokens{}, Caller: failingCaller{reason: reason},
		BaseURL: "https://gate.example/api/v1", MaxAttempts: attempts, Backoff: time.Second, Now: time.Now, Log: log}

	sizes := map[string]int{} // every item measured, by id: for the log
	measure := func(id string) int {
		t.Helper()
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}}})
		if err != nil {
			t.Fatal(err)
		}
		if out.Item == nil {
			t.Fatalf("no item %s", id)
		}
		n := dynamo.ItemSize(out.Item)
		if n > largestItemBound {
			t.Errorf("item %s is %d bytes, over %d; by attribute: %v", id, n, largestItemBound, attributeSizes(out.Item))
		}
		sizes[id] = n
		largest = max(largest, n)
		return n
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
	last = measure(id)
	var want []string // every message the timeline must show, in order within a write
	want = append(want, "Triggered pre-approval webhooks: "+joinNames(sets[0]))
	for r := range runs {
		if r > 0 {
			hooks.set = sets[r]
			res, err := reqs.RetryPreApproval(ctx, gate.Decision{IDs: []string{id}, Actor: actor})
			if err != nil || len(res.Succeeded) != 1 {
				t.Fatalf("re-run %d: %+v %v", r, res, err)
			}
			last = measure(id)
			measure(dynamo.ArchiveID(id, r-1))
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
		for i, h := range sets[r] {
			want = append(want, fmt.Sprintf("Pre-approval webhook '%s' failed after %d attempts: %s", h.Name, attempts, gate.TruncateReason(reason)))
			if i == 0 {
				want = append(want, "Status changed from awaiting_pre_approval to pending")
			}
		}
		// The first reply through the use case; the other 48 straight to
		// the store, with the write the use case makes (a reply that only
		// records), which saves a read of the large item each. Runs 0 and 2
		// stop at the first: their archive items have the layout of run 1's
		// (which also starts with a re-run's entry), and the item of the
		// last run, the request's own, is the largest; so the largest item
		// of each kind is reached at about half the writes.
		replying := sets[r][:m-1]
		if r%2 == 0 && r != runs-1 {
			replying = replying[:1]
		}
		for i, h := range replying {
			msg := fmt.Sprintf("Pre-approval webhook '%s' responded: eligible", h.Name)
			want = append(want, msg)
			if i == 0 {
				if err := replies.Reply(ctx, runTokens{}.token(id, h.Key, r), id, gate.WebhookEligible); err != nil {
					t.Fatalf("run %d reply of %s: %v", r, h.Key, err)
				}
				continue
			}
			now := time.Now().UTC().Truncate(time.Microsecond)
			if _, err := store.RecordReply(ctx, gate.ReplyWrite{ID: id, Run: r, At: now,
				Reply:    &gate.WebhookReply{Index: i, Key: h.Key, Answer: gate.WebhookEligible},
				Activity: []gate.ActivityEntry{{At: now, Kind: gate.KindEligible, Hooks: []gate.Mention{{Index: i, Key: h.Key, Name: h.Name}}}}}); err != nil {
				t.Fatalf("run %d reply of %s: %v", r, h.Key, err)
			}
		}
		last = measure(id) // the item only grows within a run
		t.Logf("run %d done at %s: %d bytes", r, time.Since(began).Round(time.Millisecond), last)
	}

	// The other ending, on a copy of the request as it stands: every webhook
	// but one that replied removed from the configuration, so the request is
	// approved naming 49 removed, then published.
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}}})
	if err != nil {
		t.Fatal(err)
	}
	twin := gate.NewRequestID()
	out.Item["id"] = &types.AttributeValueMemberS{Value: twin}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: out.Item}); err != nil {
		t.Fatal(err)
	}
	hooks.set = sets[runs-1][:1]
	cur, err := store.Get(ctx, twin)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := replies.ApproveIfComplete(ctx, cur); err != nil || !ok {
		t.Fatalf("approval with every webhook removed: %v %v", ok, err)
	}
	publisher := &gate.Publisher{Store: store, Queue: discardQueue{}, Now: time.Now, Log: log}
	if sent, err := publisher.Publish(ctx, gate.ApprovedMessage{PrivacyRequestID: twin}); err != nil || !sent {
		t.Fatalf("publish: %v %v", sent, err)
	}
	approved := measure(twin)
	if r, err := store.Get(ctx, twin); err != nil || r.Status != gate.StatusApproved || r.PublishedAt == nil {
		t.Fatalf("the approved ending: %+v %v", r, err)
	}

	deny := text(gate.MaxDenyReasonLen)
	if res, err := reqs.Deny(ctx, gate.Decision{IDs: []string{id}, Actor: actor, Reason: deny}); err != nil || len(res.Succeeded) != 1 {
		t.Fatalf("deny: %+v %v", res, err)
	}
	last = measure(id)
	want = append(want, deny)
	t.Logf("items: request denied %d bytes, approved and published %d; archived runs %d, %d, %d bytes", last, approved,
		sizes[dynamo.ArchiveID(id, 0)], sizes[dynamo.ArchiveID(id, 1)], sizes[dynamo.ArchiveID(id, 2)])

	// The timeline, archived runs included, reads back exactly (the
	// dispatcher records one batch's entries in its own order: compare as a
	// multiset with the order of runs).
	activity, err := reqs.Activity(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if e := activity[len(activity)-1]; e.Action() != gate.ActionDenied || e.Actor != actor || e.Message() != deny {
		t.Errorf("the denial reads back as %.80q by %.40q", e.Message(), e.Actor)
	}
	got := map[string]int{}
	for _, e := range activity {
		got[e.Message()]++
	}
	for _, w := range want {
		if got[w] == 0 {
			t.Fatalf("timeline lacks %.120q…; it has %d entries", w, len(activity))
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

// attributeSizes is an item's size by attribute, largest first.
func attributeSizes(item map[string]types.AttributeValue) string {
	type part struct {
		name string
		n    int
	}
	var parts []part
	for name, v := range item {
		parts = append(parts, part{name, len(name) + dynamo.AttributeSize(v)})
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].n > parts[j].n })
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%s=%d ", p.name, p.n)
	}
	return b.String()
}

// discardQueue is an approved queue that takes every message.
type discardQueue struct{}

func (discardQueue) PublishApproved(context.Context, gate.ApprovedMessage) error { return nil }

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

func (s *switchedWebhooks) ListWebhooks(ctx context.Context) (gate.WebhookConfig, error) {
	hooks, err := s.WebhooksSince(ctx, 0)
	return gate.WebhookConfig{Version: 1, Webhooks: hooks}, err
}

func (s *switchedWebhooks) WebhooksSince(context.Context, int64) ([]gate.Webhook, error) {
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
