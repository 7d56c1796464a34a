package dynamo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/secrets"
)

// Two admins changing different fields of one connection at the same time
// both get their change: the writes are conditional on what was read, and
// the loser re-reads and applies its change again.
func TestConcurrentConnectionChangesAreNotLost(t *testing.T) {
	s, cfg := awstest.Stack(t)
	store := dynamo.NewConfigStore(dynamodb.NewFromConfig(cfg), s.Resources["ConfigTable"].Ref)
	sealer := secrets.NewKMS(kms.NewFromConfig(cfg), s.Resources["SecretsKey"].Ref)
	a := &gate.Admin{Store: store, Sealer: sealer, Now: time.Now, CheckURL: func(context.Context, string) error { return nil }}
	ctx := context.Background()
	str := func(s string) *string { return &s }
	conn := func(desc *string, disabled *bool) []gate.ConnectionInput {
		return []gate.ConnectionInput{{Key: str("c"), Name: str("C"), ConnectionType: str("https"), Access: str("read"), Description: desc, Disabled: disabled}}
	}
	if _, _, err := a.PatchConnections(ctx, conn(nil, nil)); err != nil {
		t.Fatal(err)
	}
	if err := a.SetSecrets(ctx, "c", gate.SecretsInput{URL: str("https://v.example"), Authorization: str("a-0")}, false); err != nil {
		t.Fatal(err)
	}

	// both runs f and g at once and fails the test on any error.
	both := func(round int, f, g func() error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, fn := range []func() error{f, g} {
			wg.Go(func() { errs[i] = fn() })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
	for round := 1; round <= 20; round++ {
		auth, header := fmt.Sprintf("a-%d", round), fmt.Sprintf("h-%d", round)
		both(round,
			func() error { return a.SetSecrets(ctx, "c", gate.SecretsInput{Authorization: &auth}, true) },
			func() error {
				return a.SetSecrets(ctx, "c", gate.SecretsInput{Headers: map[string]string{"X-Round": header}}, true)
			})
		stored, err := store.GetSealedSecrets(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		plain, err := sealer.Open(ctx, map[string]string{"connection_key": "c"}, stored.Sealed)
		if err != nil {
			t.Fatal(err)
		}
		var got gate.Secrets
		if err := json.Unmarshal(plain, &got); err != nil {
			t.Fatal(err)
		}
		if got.URL != "https://v.example" || got.Authorization != auth || got.Headers["X-Round"] != header {
			t.Fatalf("round %d: secrets merge lost a change: authorization %q (want %q), headers %v (want X-Round %q)", round, got.Authorization, auth, got.Headers, header)
		}

		desc, disabled := fmt.Sprintf("d-%d", round), round%2 == 1
		both(round,
			func() error { return patchOne(ctx, a, conn(&desc, nil)) },
			func() error { return patchOne(ctx, a, conn(nil, &disabled)) })
		c, err := store.GetConnection(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		if c.Description != desc || c.Disabled != disabled {
			t.Fatalf("round %d: connection update lost a change: description %q (want %q), disabled %v (want %v)", round, c.Description, desc, c.Disabled, disabled)
		}
		if c.Secrets == nil || c.Secrets.URL != "https://v.example" || !c.Secrets.HasHeaders {
			t.Fatalf("round %d: a connection update touched the secrets: %+v", round, c.Secrets)
		}
	}
}

// patchOne sends a PATCH /connection of one item and fails unless it succeeded.
func patchOne(ctx context.Context, a *gate.Admin, in []gate.ConnectionInput) error {
	_, failed, err := a.PatchConnections(ctx, in)
	if err == nil && len(failed) > 0 {
		err = fmt.Errorf("failed: %s", failed[0].Message)
	}
	return err
}
