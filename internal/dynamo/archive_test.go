package dynamo_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/stream"
)

// TestRerunsArchiveTheirRuns: each re-run moves the run it ends to an
// archive item in the same transaction; the timeline route still returns
// every run's entries in order; a re-run decided on a stale read is refused
// as a conflict; the denial's stream record gives the archive items the
// request's expiry.
func TestRerunsArchiveTheirRuns(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	db := dynamodb.NewFromConfig(cfg)
	table := s.Resources["RequestsTable"].Ref
	store := dynamo.NewRequestStore(db, table)
	store.FinishedRetention = 24 * time.Hour
	sets := []staticWebhooks{
		{{Key: "crm", Name: "CRM"}, {Key: "billing", Name: "Billing"}},
		{{Key: "ticketing", Name: "Ticketing"}},
		{{Key: "crm", Name: "CRM"}, {Key: "billing", Name: "Billing"}},
	}
	targets := staticTargets{}
	for _, set := range sets {
		for _, h := range set {
			targets[h.Key] = gate.DeliveryTarget{Webhook: h, URL: "https://validator.example/" + h.Key}
		}
	}
	hooks := &switchedWebhooks{set: sets[0]}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reqs := &gate.Requests{Store: store, Webhooks: hooks, RequireManualApproval: true, Now: time.Now, NewID: gate.NewRequestID, Log: log}
	dispatcher := &gate.Dispatcher{Store: store, Targets: targets, Tokens: runTokens{}, Caller: failingCaller{reason: "HTTP 503"},
		BaseURL: "https://gate.example/api/v1", MaxAttempts: 1, Backoff: time.Second, Now: time.Now, Log: log}
	res, err := reqs.Submit(ctx, []gate.SubmitItem{{Identity: gate.Identity{Email: "a@example.com"}, PolicyKey: "default_access_policy"}})
	if err != nil || len(res.Succeeded) != 1 {
		t.Fatalf("submit: %+v %v", res, err)
	}
	id := res.Succeeded[0].ID
	fail := func(run int) {
		t.Helper()
		var batch []gate.Attempt
		for _, h := range sets[run] {
			batch = append(batch, gate.Attempt{Delivery: gate.Delivery{ID: gate.RunDeliveryID(id, h.Key, run), PrivacyRequestID: id, WebhookKey: h.Key, Run: run}, Number: 1})
		}
		for _, r := range dispatcher.DeliverBatch(ctx, batch) {
			if r.Err != nil || r.Outcome.Kind != gate.OutcomeFailed {
				t.Fatalf("run %d delivery: %+v", run, r)
			}
		}
	}
	fail(0)
	for run := 1; run < len(sets); run++ {
		hooks.set = sets[run]
		if res, err := reqs.RetryPreApproval(ctx, gate.Decision{IDs: []string{id}, Actor: "admin"}); err != nil || len(res.Succeeded) != 1 {
			t.Fatalf("re-run %d: %+v %v", run, res, err)
		}
		fail(run)
	}
	// A re-run decided on a read from before the last one: refused, nothing written.
	before, err := store.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.Apply(ctx, gate.Change{ID: id, From: gate.StatusPending, To: gate.StatusAwaitingPreApproval, At: time.Now(), Run: 2,
		Webhooks: []gate.SnapshotWebhook{{Key: "crm", Name: "CRM"}}, Activity: []gate.ActivityEntry{{At: time.Now(), Kind: gate.KindAwaitingReview}}})
	var conflict *gate.ConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("a stale re-run: %v, want a conflict", err)
	}
	if after, err := store.Get(ctx, id); err != nil || len(after.Activity) != len(before.Activity) || after.Status != gate.StatusPending {
		t.Fatalf("a refused re-run changed the request: %+v %v", after, err)
	}
	if res, err := reqs.Deny(ctx, gate.Decision{IDs: []string{id}, Actor: "admin", Reason: "no"}); err != nil || len(res.Succeeded) != 1 {
		t.Fatalf("deny: %+v %v", res, err)
	}

	// The item holds the last run only; the timeline holds all three, in order.
	r, err := store.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Activity[0].Action() != gate.ActionStatusChanged || !strings.Contains(r.Activity[0].Message(), "re-run") {
		t.Fatalf("the request's own timeline starts with %+v, want the last re-run", r.Activity[0])
	}
	activity, err := reqs.Activity(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range activity {
		switch e.Action() {
		case gate.ActionWebhookTriggered, gate.ActionWebhookFailed, gate.ActionDenied:
			got = append(got, e.Message()+"|"+e.WebhookKey())
		}
	}
	want := []string{
		"Triggered pre-approval webhooks: CRM, Billing|",
		"Pre-approval webhook 'CRM' failed after 1 attempts: HTTP 503|crm", "Pre-approval webhook 'Billing' failed after 1 attempts: HTTP 503|billing",
		"Triggered pre-approval webhooks: Ticketing|",
		"Pre-approval webhook 'Ticketing' failed after 1 attempts: HTTP 503|ticketing",
		"Triggered pre-approval webhooks: CRM, Billing|",
		"Pre-approval webhook 'CRM' failed after 1 attempts: HTTP 503|crm", "Pre-approval webhook 'Billing' failed after 1 attempts: HTTP 503|billing",
		"no|",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("timeline:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := 1; i < len(activity); i++ {
		if activity[i].At.Before(activity[i-1].At) {
			t.Fatalf("timeline out of order at %d: %+v", i, activity)
		}
	}

	// The archive items expire with the request.
	item := func(id string) map[string]types.AttributeValue {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}}})
		if err != nil || out.Item == nil {
			t.Fatalf("item %s: %v", id, err)
		}
		return out.Item
	}
	exp, ok := item(id)[dynamo.AttrExpires].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatal("the denied request has no expires_at")
	}
	// The denial's own write leaves them: its stream record, through the
	// stream function's filters, gives them the expiry.
	if _, ok := item(dynamo.ArchiveID(id, 0))[dynamo.AttrExpires]; ok {
		t.Fatal("the denying write gave an archive item expires_at; the stream's record should")
	}
	tmpl, err := stack.LoadTemplate(filepath.Join(awstest.Root(), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	filters, err := tmpl.StreamFilters("StreamFunction", "RequestsStream")
	if err != nil {
		t.Fatal(err)
	}
	streamed := awstest.NewStreamReader(cfg, s)
	records, err := streamed.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := &stream.Handler{Log: log, Steps: []stream.RecordHandler{&stream.Archives{Store: store}}}
	for range 2 { // a record delivered twice changes nothing more
		if resp, err := h.Handle(ctx, events.DynamoDBEvent{Records: stack.KeepMatching(filters, records)}); err != nil || len(resp.BatchItemFailures) > 0 {
			t.Fatalf("stream: %+v %v", resp, err)
		}
	}
	// The archive items' own records (they have no status) never reach the function.
	records, err = streamed.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(records) == 0 {
		t.Fatal("no stream record of the archive items' expiry")
	}
	if kept := stack.KeepMatching(filters, records); len(kept) > 0 {
		t.Errorf("the stream function would see %d records of archive items", len(kept))
	}
	for run := range 2 {
		a := item(dynamo.ArchiveID(id, run))
		if got, ok := a[dynamo.AttrExpires].(*types.AttributeValueMemberN); !ok || got.Value != exp.Value {
			t.Errorf("archived run %d: expiry %v, want %s", run, a[dynamo.AttrExpires], exp.Value)
		}
		for _, attr := range dynamo.IndexAttrs {
			if _, ok := a[attr]; ok {
				t.Errorf("archived run %d has %s", run, attr)
			}
		}
	}
}

// ExpireArchives gives each archive item that exists the expiry, again and
// again to the same effect, and creates none: a run not archived stays
// absent, and other items are untouched.
func TestExpireArchives(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	db := dynamodb.NewFromConfig(cfg)
	table := s.Resources["RequestsTable"].Ref
	store := dynamo.NewRequestStore(db, table)
	id := gate.NewRequestID()
	put := func(key string) {
		t.Helper()
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: map[string]types.AttributeValue{
			dynamo.AttrID: &types.AttributeValueMemberS{Value: key}, dynamo.AttrActivity: &types.AttributeValueMemberL{Value: []types.AttributeValue{}}}}); err != nil {
			t.Fatal(err)
		}
	}
	// Runs 0 and 2 archived, run 1 not; another request's run 0 archived.
	put(dynamo.ArchiveID(id, 0))
	put(dynamo.ArchiveID(id, 2))
	other := gate.NewRequestID()
	put(dynamo.ArchiveID(other, 0))
	get := func(key string) map[string]types.AttributeValue {
		t.Helper()
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: key}}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	const exp = 1790000000
	for range 2 {
		if err := store.ExpireArchives(ctx, id, 3, exp); err != nil {
			t.Fatal(err)
		}
		for _, run := range []int{0, 2} {
			if got, ok := get(dynamo.ArchiveID(id, run))[dynamo.AttrExpires].(*types.AttributeValueMemberN); !ok || got.Value != "1790000000" {
				t.Errorf("archived run %d: expires_at %v", run, got)
			}
		}
		if it := get(dynamo.ArchiveID(id, 1)); it != nil {
			t.Errorf("run 1, never archived, now is %v", it)
		}
		if _, ok := get(dynamo.ArchiveID(other, 0))[dynamo.AttrExpires]; ok {
			t.Error("another request's archive item got the expiry")
		}
	}
	// No run archived at all: nothing to do.
	if err := store.ExpireArchives(ctx, gate.NewRequestID(), 3, exp); err != nil {
		t.Fatal(err)
	}
}
