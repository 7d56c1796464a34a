package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

func TestPolicyTimeframesAreStored(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	store := dynamo.NewPolicyStore(dynamodb.NewFromConfig(cfg), s.Resources["ConfigTable"].Ref)
	set, err := store.Timeframes(ctx)
	if err != nil || len(set) != 0 {
		t.Fatalf("fresh table: %v %v", set, err)
	}
	for key, days := range map[string]int{"default_access_policy": 45, "default_erasure_policy": 0} {
		if err := store.SetTimeframe(ctx, key, days, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.SetTimeframe(ctx, "default_access_policy", 60, time.Now()); err != nil {
		t.Fatal(err)
	}
	set, err = store.Timeframes(ctx)
	if err != nil || len(set) != 2 || set["default_access_policy"] != 60 || set["default_erasure_policy"] != 0 {
		t.Fatalf("timeframes %v %v", set, err)
	}
}

// TestAccessLogPagesNewestFirstAcrossMonths: entries of several months come
// back newest first, page by page, each exactly once.
func TestAccessLogPagesNewestFirstAcrossMonths(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	log := dynamo.NewAccessLog(dynamodb.NewFromConfig(cfg), s.Resources["AccessLogTable"].Ref)
	now := time.Now().UTC().Truncate(time.Microsecond)
	var want []time.Time
	for i := range 7 {
		at := now.Add(-time.Duration(i) * 20 * 24 * time.Hour) // 7 entries over four months
		want = append(want, at)
		if err := log.Record(ctx, gate.AccessEntry{At: at, Actor: "admin", Action: gate.AccessReveal, PrivacyRequestID: "pri_x", Detail: "d"}); err != nil {
			t.Fatal(err)
		}
	}
	var got []gate.AccessEntry
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 4 {
			t.Fatal("more pages than entries")
		}
		page, err := gate.ListAccess(ctx, log, 3, cursor)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Items...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for i, e := range got {
		if !e.At.Equal(want[i]) || e.Actor != "admin" || e.Action != gate.AccessReveal || e.PrivacyRequestID != "pri_x" {
			t.Errorf("entry %d: %+v, want at %v", i, e, want[i])
		}
	}
	if _, err := gate.ListAccess(ctx, log, 3, "bm90IGEga2V5"); err == nil {
		t.Error("a malformed cursor was taken")
	}
}
