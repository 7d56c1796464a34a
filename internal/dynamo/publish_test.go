package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

// The publication claim against the emulator: one claimant at a time, its
// own retried claim accepted, taken over once it ended, refused once the
// request is marked or when it is not approved; the claim leaves the request
// in the due index where its approval put it, and the mark takes it out.
func TestPublishClaimAgainstEmulator(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	store := dynamo.NewRequestStore(dynamodb.NewFromConfig(cfg), s.Resources["RequestsTable"].Ref).WithReconcileAfter(time.Second)
	now := time.Now().UTC().Truncate(time.Microsecond)
	create := func(st gate.Status) string {
		t.Helper()
		r := &gate.PrivacyRequest{ID: gate.NewRequestID(), Status: st, PolicyKey: "default_access_policy", PolicyAction: "erasure",
			Identity: gate.Identity{Email: "a@example.com"}, CreatedAt: now, UpdatedAt: now}
		if st == gate.StatusApproved {
			r.ApprovedAt = &now
		}
		if err := store.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	id := create(gate.StatusApproved)
	var conflict *gate.ConflictError
	claim := func(token string, at time.Time) error {
		return store.ClaimPublish(ctx, id, gate.PublishClaim{Token: token, Until: at.Add(gate.PublishLease)}, at)
	}
	if err := claim("a", now); err != nil {
		t.Fatal(err)
	}
	r, err := store.Get(ctx, id)
	if err != nil || r.Publishing == nil || r.Publishing.Token != "a" || !r.DueAt.Equal(now.Add(time.Second)) {
		t.Fatalf("claimed: %+v (%v), want claimed by a and still due where the approval put it", r, err)
	}
	if due, err := store.Due(ctx, now.Add(time.Second), "", 10); err != nil || len(due) != 1 || due[0].ID != id {
		t.Fatalf("due after the claim: %+v (%v)", due, err)
	}
	if err := claim("b", now.Add(gate.PublishLease/2)); !errors.As(err, &conflict) {
		t.Fatalf("another claim within the lease: %v, want a conflict", err)
	}
	if err := claim("a", now.Add(time.Second)); err != nil {
		t.Fatalf("the same claimant again (its response was lost): %v", err)
	}
	if err := claim("b", now.Add(time.Second+gate.PublishLease)); err != nil {
		t.Fatalf("another claim once the lease ended: %v", err)
	}
	if err := store.MarkPublished(ctx, id, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r, err := store.Get(ctx, id); err != nil || r.PublishedAt == nil || r.Publishing != nil || r.DueAt != nil {
		t.Fatalf("marked: %+v (%v), want published, unclaimed, out of the due index", r, err)
	}
	if err := claim("c", now.Add(time.Hour)); !errors.As(err, &conflict) {
		t.Fatalf("claim after the mark: %v, want a conflict", err)
	}
	missing := gate.NewRequestID()
	for _, other := range []string{create(gate.StatusPending), missing} {
		if err := store.ClaimPublish(ctx, other, gate.PublishClaim{Token: "a", Until: now.Add(time.Minute)}, now); !errors.As(err, &conflict) {
			t.Fatalf("claim of a request not approved (or missing): %v, want a conflict", err)
		}
	}
	var nf *gate.NotFoundError
	if _, err := store.Get(ctx, missing); !errors.As(err, &nf) {
		t.Fatal("a refused claim created an item")
	}

	// Eight publishers (the stream, replays, the reconciler) on one approval at once: one message.
	id2 := create(gate.StatusApproved)
	rec := &recorder{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &gate.Publisher{Store: store, Queue: rec, Now: time.Now, Log: log, NewToken: func() string { return fmt.Sprint("p", i) }}
			_, err := p.Publish(ctx, gate.ApprovedMessage{PrivacyRequestID: id2, PolicyAction: "erasure", ApprovedAt: now})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.approved) != 1 {
		t.Fatalf("%d messages from 8 publishers, want 1", len(rec.approved))
	}
}
