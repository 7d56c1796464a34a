package dynamo_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

// 100 requests, each with a snapshot of 50 webhooks named with 200
// characters (about 15 KB an item, 1.5 MB for the lot), are all found by
// paging, newest first, with and without a status filter. Index pages are
// capped at 3 keys, so each shard's query follows LastEvaluatedKey; the old
// layout (one ALL index page of 1 MB) returned 45 of them and no cursor.
func TestListPagesThroughLargeItems(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	store := dynamo.NewRequestStore(dynamodb.NewFromConfig(cfg), s.Resources["RequestsTable"].Ref)
	dynamo.SetQueryLimit(store, 3)
	hooks := make([]gate.SnapshotWebhook, 50)
	for i := range hooks {
		name := fmt.Sprintf("%03d-", i) + strings.Repeat("w", 196)
		hooks[i] = gate.SnapshotWebhook{Key: fmt.Sprintf("hook_%02d", i), Name: name}
	}
	start := time.Now().UTC().Truncate(time.Microsecond)
	var all, awaiting []string // newest first
	for i := range 100 {
		at := start.Add(time.Duration(i) * time.Millisecond)
		st := gate.StatusAwaitingPreApproval
		if i%2 == 0 {
			st = gate.StatusPending
		}
		r := &gate.PrivacyRequest{ID: gate.NewRequestID(), Status: st, PolicyKey: "default_access_policy", PolicyAction: "access",
			Identity: gate.Identity{Email: "a@example.com"}, CreatedAt: at, UpdatedAt: at, Webhooks: hooks,
			Activity: []gate.ActivityEntry{{At: at, Kind: gate.KindAwaitingReview}}}
		if err := store.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		all = append([]string{r.ID}, all...)
		if st == gate.StatusAwaitingPreApproval {
			awaiting = append([]string{r.ID}, awaiting...)
		}
	}
	reqs := &gate.Requests{Store: store}
	for _, tc := range []struct {
		status string
		size   int
		want   []string
	}{
		{"", 40, all}, {"awaiting_pre_approval", 20, awaiting},
	} {
		var got []string
		cursor, pages := "", 0
		for {
			page, err := reqs.List(ctx, gate.ListParams{Status: tc.status, Size: tc.size, Cursor: cursor})
			if err != nil {
				t.Fatalf("status %q size %d page %d: %v", tc.status, tc.size, pages, err)
			}
			pages++
			for _, r := range page.Items {
				if len(r.Webhooks) != 50 {
					t.Fatalf("request %s read back with %d webhooks", r.ID, len(r.Webhooks))
				}
				got = append(got, r.ID)
			}
			if page.NextCursor == "" || pages > 100 {
				break
			}
			cursor = page.NextCursor
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Fatalf("status %q size %d: %d requests in %d pages, want all %d newest first", tc.status, tc.size, len(got), pages, len(tc.want))
		}
	}
}
