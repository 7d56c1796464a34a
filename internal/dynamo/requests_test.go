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
