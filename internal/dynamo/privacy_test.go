package dynamo_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
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

// TestDueListingPagesSoonestFirst: the deadline index's listing, paged two
// at a time with index pages of two keys (each shard's query follows its
// cursor), gives every request due strictly before the bound once, soonest
// first and by id within one second, in every status; none without a due
// date, none due at the bound itself. An export of the same requests pages
// through its range, created_from included and created_to excluded, newest
// first.
func TestDueListingPagesSoonestFirst(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	store := dynamo.NewRequestStore(dynamodb.NewFromConfig(cfg), s.Resources["RequestsTable"].Ref)
	dynamo.SetQueryLimit(store, 2)
	bound := time.Now().UTC().Truncate(time.Second).AddDate(0, 0, 10)
	type due struct {
		offset time.Duration
		status gate.Status
	}
	var want, created []*gate.PrivacyRequest
	for i, d := range []due{
		{-time.Hour, gate.StatusPending}, {-time.Second, gate.StatusApproved}, {-time.Second, gate.StatusDenied}, {-time.Second, gate.StatusPending},
		{-time.Second, gate.StatusAwaitingPreApproval}, {-48 * time.Hour, gate.StatusDenied}, {-2 * time.Second, gate.StatusPending},
		{0, gate.StatusPending}, {time.Hour, gate.StatusPending}, {-1, ""},
	} {
		at := time.Now().UTC().Truncate(time.Microsecond).Add(time.Duration(i) * time.Millisecond)
		r := &gate.PrivacyRequest{ID: gate.NewRequestID(), Status: gate.StatusPending, PolicyKey: "default_access_policy", PolicyAction: "access",
			Identity: gate.Identity{Email: "a@example.com"}, CreatedAt: at, UpdatedAt: at, Activity: []gate.ActivityEntry{{At: at, Kind: gate.KindAwaitingReview}}}
		if d.status != "" {
			dd := bound.Add(d.offset)
			r.DueDate, r.Status = &dd, d.status
		}
		if err := store.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		created = append(created, r)
		if r.DueDate != nil && r.DueDate.Before(bound) {
			want = append(want, r)
		}
	}
	sort.Slice(want, func(i, j int) bool {
		if !want[i].DueDate.Equal(*want[j].DueDate) {
			return want[i].DueDate.Before(*want[j].DueDate)
		}
		return want[i].ID < want[j].ID
	})
	reqs := &gate.Requests{Store: store, Deadlines: store, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	listDue := func(open string) (got []string) {
		for cursor, pages := "", 0; ; pages++ {
			page, err := reqs.List(ctx, gate.ListParams{DueBefore: bound.Format(time.RFC3339), Open: open, Size: 2, Cursor: cursor})
			if err != nil || pages > len(want) {
				t.Fatalf("open=%q page %d: %v", open, pages, err)
			}
			for _, r := range page.Items {
				got = append(got, r.ID)
			}
			if cursor = page.NextCursor; cursor == "" {
				return got
			}
		}
	}
	wantDue := func(set func(gate.Status) bool) (ids []string) {
		for _, r := range want {
			if set(r.Status) {
				ids = append(ids, r.ID)
			}
		}
		return ids
	}
	every := func(gate.Status) bool { return true }
	decided := func(st gate.Status) bool { return !st.Open() }
	for _, c := range []struct {
		open string
		set  func(gate.Status) bool
	}{{"", every}, {"true", gate.Status.Open}, {"false", decided}} {
		if got, ids := listDue(c.open), wantDue(c.set); strings.Join(got, ",") != strings.Join(ids, ",") {
			t.Errorf("due before %s, open=%q:\n got %v\nwant %v", bound, c.open, got, ids)
		}
	}
	// A decision moves the request from the open set to the decided one.
	pending := want[slices.IndexFunc(want, func(r *gate.PrivacyRequest) bool { return r.Status == gate.StatusPending })]
	if res, err := reqs.Deny(ctx, gate.Decision{IDs: []string{pending.ID}, Actor: "ada", Reason: "no"}); err != nil || len(res.Succeeded) != 1 {
		t.Fatalf("deny: %+v, %v", res, err)
	}
	pending.Status = gate.StatusDenied
	for _, c := range []struct {
		open string
		set  func(gate.Status) bool
	}{{"true", gate.Status.Open}, {"false", decided}} {
		if got, ids := listDue(c.open), wantDue(c.set); strings.Join(got, ",") != strings.Join(ids, ",") {
			t.Errorf("after a denial, open=%q:\n got %v\nwant %v", c.open, got, ids)
		}
	}
	var got []string
	var cursor string
	var ids []string

	reqs.Access = dynamo.NewAccessLog(dynamodb.NewFromConfig(cfg), s.Resources["AccessLogTable"].Ref)
	reqs.Now = time.Now
	from, to := gate.FormatTime(created[2].CreatedAt), gate.FormatTime(created[6].CreatedAt)
	got, cursor = nil, ""
	for pages := 0; ; pages++ {
		page, err := reqs.Export(ctx, gate.ExportParams{CreatedFrom: from, CreatedTo: to, Size: 3, Cursor: cursor, Actor: "auditor"})
		if err != nil || pages > len(created) {
			t.Fatalf("export page %d: %v", pages, err)
		}
		for _, r := range page.Items {
			got = append(got, r.ID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	ids = []string{created[5].ID, created[4].ID, created[3].ID, created[2].ID}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("export from %s to %s:\n got %v\nwant %v", from, to, got, ids)
	}
}
