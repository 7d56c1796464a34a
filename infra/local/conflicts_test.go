package local_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pregate/pregate/infra/faults"
	"github.com/pregate/pregate/internal/awsenv"
	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

type oneWebhook struct{}

func (oneWebhook) ListWebhooks(context.Context) (gate.WebhookConfig, error) {
	return gate.WebhookConfig{Version: 1, Webhooks: []gate.Webhook{{Key: "crm", Name: "CRM"}}}, nil
}

func (oneWebhook) WebhooksSince(context.Context, int64) ([]gate.Webhook, error) {
	return []gate.Webhook{{Key: "crm", Name: "CRM"}}, nil
}

// Writes that meet a transaction in flight, as DynamoDB answers them (the
// fault proxy's conflicts), are tried again: an admin's re-run whose
// transaction is cancelled for TransactionConflict twice, and a decision
// whose UpdateItem meets TransactionConflictException, both take effect.
func TestTransactionConflictsAreRetried(t *testing.T) {
	s, cfg := awstest.Stack(t)
	proxy := &faults.Proxy{Target: aws.ToString(cfg.BaseEndpoint), Rules: faults.Rules{"TransactWriteItems:conflict": 0.5}}
	// A call draws 0 (a fault, where a rule names its operation) until
	// wantConflicts were injected, then 0.999 (none).
	wantConflicts := 2
	proxy.Rand = func() float64 {
		if proxy.CountKind(faults.Conflict) < wantConflicts {
			return 0
		}
		return 0.999
	}
	url, err := proxy.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	store := dynamo.NewRequestStore(dynamodb.NewFromConfig(awsenv.Emulator(url), dynamo.RetryConflicts), s.Resources["RequestsTable"].Ref)
	u := &gate.Requests{Store: store, Webhooks: oneWebhook{}, RequireManualApproval: true, Now: time.Now, NewID: gate.NewRequestID,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	id := gate.NewRequestID()
	if err := store.Create(ctx, &gate.PrivacyRequest{ID: id, Status: gate.StatusPending, PolicyKey: "default_access_policy", PolicyAction: "access",
		Identity: gate.Identity{Email: "conflict@example.com"}, CreatedAt: now, UpdatedAt: now,
		Webhooks: []gate.SnapshotWebhook{{Key: "crm", Name: "CRM", Delivery: gate.WebhookFailed, Attempts: 3}},
		Activity: []gate.ActivityEntry{{At: now, Kind: gate.KindTriggered, Hooks: []gate.Mention{{Index: 0, Key: "crm", Name: "CRM"}}}}}); err != nil {
		t.Fatal(err)
	}

	res, err := u.RetryPreApproval(ctx, gate.Decision{IDs: []string{id}, Actor: "admin"})
	if err != nil || len(res.Succeeded) != 1 || res.Succeeded[0].Run != 1 {
		t.Fatalf("re-run through two conflicts: %+v, %v; faults %v", res, err, proxy.Summary())
	}
	if n := proxy.CountKind(faults.Conflict); n != 2 {
		t.Fatalf("%d conflicts injected, want 2", n)
	}

	proxy.Rules = faults.Rules{"UpdateItem:conflict": 0.5}
	wantConflicts = 3
	res, err = u.Approve(ctx, gate.Decision{IDs: []string{id}, Actor: "admin"})
	if err != nil || len(res.Succeeded) != 1 || res.Succeeded[0].Status != gate.StatusApproved {
		t.Fatalf("approval through a conflict: %+v, %v", res, err)
	}
	if n := proxy.CountKind(faults.Conflict); n != 3 {
		t.Fatalf("%d conflicts injected, want 3", n)
	}
}
