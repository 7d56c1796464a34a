package dynamo_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

// TestFinishedRequestsExpire: the write that approves or denies a request
// (at creation, by an admin, by the last eligible reply) sets expires_at,
// the table's TTL attribute, FinishedRetention after that write; no other
// write sets it, and with no retention nothing does.
func TestFinishedRequestsExpire(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	db := dynamodb.NewFromConfig(cfg)
	table := s.Resources["RequestsTable"].Ref
	store := dynamo.NewRequestStore(db, table)
	store.FinishedRetention = 30 * 24 * time.Hour
	now := time.Now().UTC().Truncate(time.Microsecond)
	expiresAt := func(id string) string {
		t.Helper()
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}}, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := out.Item[dynamo.AttrExpires].(*types.AttributeValueMemberN); ok {
			return n.Value
		}
		return ""
	}
	want := func(at time.Time) string { return strconv.FormatInt(at.Add(30*24*time.Hour).Unix(), 10) }
	create := func(st *dynamo.RequestStore, status gate.Status, hooks []gate.SnapshotWebhook) string {
		t.Helper()
		r := &gate.PrivacyRequest{ID: gate.NewRequestID(), Status: status, PolicyKey: "default_access_policy", PolicyAction: "access",
			Identity: gate.Identity{Email: "ttl@example.com"}, CreatedAt: now, UpdatedAt: now, Webhooks: hooks}
		if err := st.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r.ID
	}

	if id := create(store, gate.StatusApproved, nil); expiresAt(id) != want(now) {
		t.Errorf("approved at creation: expires_at %q, want %s", expiresAt(id), want(now))
	}
	pending := create(store, gate.StatusPending, nil)
	if got := expiresAt(pending); got != "" {
		t.Errorf("pending request has expires_at %s", got)
	}
	denyAt := now.Add(time.Hour)
	if _, err := store.Apply(ctx, gate.Change{ID: pending, From: gate.StatusPending, To: gate.StatusDenied, At: denyAt, ReviewedBy: "admin"}); err != nil {
		t.Fatal(err)
	}
	if expiresAt(pending) != want(denyAt) {
		t.Errorf("denied: expires_at %q, want %s", expiresAt(pending), want(denyAt))
	}

	awaiting := create(store, gate.StatusAwaitingPreApproval, []gate.SnapshotWebhook{{Key: "crm", Name: "CRM"}})
	replyAt := now.Add(2 * time.Hour)
	if _, err := store.RecordReply(ctx, gate.ReplyWrite{ID: awaiting, Reply: &gate.WebhookReply{Index: 0, Key: "crm", Answer: gate.WebhookEligible},
		To: gate.StatusApproved, At: replyAt}); err != nil {
		t.Fatal(err)
	}
	if expiresAt(awaiting) != want(replyAt) {
		t.Errorf("approved by the last reply: expires_at %q, want %s", expiresAt(awaiting), want(replyAt))
	}

	keep := dynamo.NewRequestStore(db, table) // retention 0: kept forever
	if id := create(keep, gate.StatusApproved, nil); expiresAt(id) != "" {
		t.Errorf("retention 0: expires_at %q set", expiresAt(id))
	}
}

// TestUnverifiedRequestsExpire: a request awaiting identity verification
// expires UnverifiedRetention after its creation (its code lifetime and a
// day), whatever the finished retention; the verifying write removes that
// expiry, or sets the finished one when it decides the request at once.
func TestUnverifiedRequestsExpire(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	db := dynamodb.NewFromConfig(cfg)
	table := s.Resources["RequestsTable"].Ref
	now := time.Now().UTC().Truncate(time.Microsecond)
	expiresAt := func(id string) string {
		t.Helper()
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}}, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := out.Item[dynamo.AttrExpires].(*types.AttributeValueMemberN); ok {
			return n.Value
		}
		return ""
	}
	for _, retention := range []time.Duration{0, 30 * 24 * time.Hour} {
		store := dynamo.NewRequestStore(db, table)
		store.FinishedRetention = retention
		for _, to := range []gate.Status{gate.StatusPending, gate.StatusApproved} {
			r := &gate.PrivacyRequest{ID: gate.NewRequestID(), Status: gate.StatusIdentityUnverified, PolicyKey: "default_access_policy",
				PolicyAction: "access", Identity: gate.Identity{Email: "unverified@example.com", PhoneNumber: "+15555550100"}, CreatedAt: now, UpdatedAt: now,
				Code: &gate.VerificationCode{Hash: "h", ExpiresAt: now.Add(gate.CodeTTL)}}
			if err := store.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			if got, want := expiresAt(r.ID), strconv.FormatInt(now.Add(gate.CodeTTL+24*time.Hour).Unix(), 10); got != want {
				t.Fatalf("retention %s: unverified request expires_at %q, want %s", retention, got, want)
			}
			at := now.Add(time.Minute)
			if _, err := store.Apply(ctx, gate.Change{ID: r.ID, From: gate.StatusIdentityUnverified, To: to, At: at, IdentityVerified: true,
				Approved: to == gate.StatusApproved}); err != nil {
				t.Fatal(err)
			}
			want := ""
			if to == gate.StatusApproved && retention > 0 {
				want = strconv.FormatInt(at.Add(retention).Unix(), 10)
			}
			if got := expiresAt(r.ID); got != want {
				t.Errorf("retention %s, verified to %s: expires_at %q, want %q", retention, to, got, want)
			}
		}
	}
}
