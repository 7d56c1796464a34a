package dynamo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

// The SDK retries a PutItem whose response was lost; the retry meets the item
// the first attempt wrote. That must count as created, not as a clash, while
// a genuinely different request with the same id is still refused.
func TestCreateIsIdempotentUnderRetry(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	store := dynamo.NewRequestStore(dynamodb.NewFromConfig(cfg), s.Resources["RequestsTable"].Ref)
	now := time.Now().UTC()
	r := &gate.PrivacyRequest{ID: gate.NewRequestID(), Status: gate.StatusPending, PolicyKey: "default_access_policy",
		PolicyAction: "access", Identity: gate.Identity{Email: "a@example.com"}, CreatedAt: now, UpdatedAt: now}
	if err := store.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := store.Create(ctx, r); err != nil {
		t.Fatalf("repeated put of the same request: %v, want success", err)
	}
	other := *r
	other.CreatedAt = now.Add(time.Second)
	var conflict *gate.ConflictError
	if err := store.Create(ctx, &other); !errors.As(err, &conflict) {
		t.Fatalf("another request with the same id: %v, want a conflict", err)
	}
}

// Discard removes a request only while it is as Create left it: a tried code
// or a verified request is kept.
func TestDiscardOnlyAnUntouchedRequest(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	store := dynamo.NewRequestStore(dynamodb.NewFromConfig(cfg), s.Resources["RequestsTable"].Ref)
	now := time.Now().UTC().Truncate(time.Microsecond)
	unverified := func() *gate.PrivacyRequest {
		r := &gate.PrivacyRequest{ID: gate.NewRequestID(), Status: gate.StatusIdentityUnverified, PolicyKey: "default_access_policy",
			PolicyAction: "access", Identity: gate.Identity{Email: "a@example.com"}, CreatedAt: now, UpdatedAt: now,
			Code: &gate.VerificationCode{Hash: "h", ExpiresAt: now.Add(gate.CodeTTL)}}
		if err := store.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	var conflict *gate.ConflictError
	var notFound *gate.NotFoundError

	fresh := unverified()
	if err := store.Discard(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, fresh.ID); !errors.As(err, &notFound) {
		t.Errorf("discarded request still there: %v", err)
	}

	tried := unverified()
	if err := store.CountCodeTry(ctx, tried.ID, 0); err != nil {
		t.Fatal(err)
	}
	if err := store.Discard(ctx, tried); !errors.As(err, &conflict) {
		t.Errorf("a request whose code was tried: %v, want a conflict", err)
	}

	verified := unverified()
	if _, err := store.Apply(ctx, gate.Change{ID: verified.ID, From: gate.StatusIdentityUnverified, To: gate.StatusPending,
		At: now.Add(time.Second), IdentityVerified: true}); err != nil {
		t.Fatal(err)
	}
	if err := store.Discard(ctx, verified); !errors.As(err, &conflict) {
		t.Errorf("a verified request: %v, want a conflict", err)
	}
	for _, id := range []string{tried.ID, verified.ID} {
		if _, err := store.Get(ctx, id); err != nil {
			t.Errorf("kept request %s: %v", id, err)
		}
	}
}
