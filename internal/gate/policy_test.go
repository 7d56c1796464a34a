package gate

import (
	"context"
	"testing"
	"time"
)

func TestDaysLeftAtTheDaysEdges(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		due  time.Duration
		want int
	}{
		{30 * 24 * time.Hour, 30},
		{30*24*time.Hour - time.Microsecond, 29}, // just submitted with 30 days: 29, as Fides shows
		{24 * time.Hour, 1},
		{23*time.Hour + 59*time.Minute, 0},
		{0, 0},
		{-time.Minute, -1},
		{-24 * time.Hour, -1},
		{-24*time.Hour - time.Minute, -2},
	} {
		if got := DaysLeft(now.Add(c.due), now); got != c.want {
			t.Errorf("due in %v: %d days left, want %d", c.due, got, c.want)
		}
	}
}

func TestDueDateIsCreationPlusTheTimeframe(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	if d := DueDate(at, 30); d == nil || !d.Equal(at.AddDate(0, 0, 30)) {
		t.Errorf("30 days: %v", d)
	}
	if d := DueDate(at, 0); d != nil {
		t.Errorf("no timeframe: %v, want none", d)
	}
}

type memPolicies map[string]int

func (m memPolicies) Timeframes(context.Context) (map[string]int, error) { return m, nil }
func (m memPolicies) SetTimeframe(_ context.Context, key string, days int, _ time.Time) error {
	m[key] = days
	return nil
}

func TestPolicyPatchFailsBadItemsAlone(t *testing.T) {
	store := memPolicies{}
	u := &PolicyCases{Store: store, Now: time.Now}
	n45, n0, n366 := 45, 0, 366
	res, err := u.Patch(context.Background(), []PolicyChange{
		{Key: "default_access_policy", Days: &n45},
		{Key: "default_erasure_policy"}, // null: no timeframe
		{Key: "default_consent_policy", Days: &n0},
		{Key: "default_update_policy", Days: &n366},
		{Key: "nope", Days: &n45},
		{Key: "default_update_policy", Problem: "execution_timeframe is required"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Succeeded) != 2 || len(res.Failed) != 4 {
		t.Fatalf("succeeded %+v failed %+v", res.Succeeded, res.Failed)
	}
	all, _ := u.List(context.Background())
	want := map[string]int{"default_access_policy": 45, "default_erasure_policy": 0, "default_consent_policy": DefaultTimeframeDays, "default_update_policy": DefaultTimeframeDays}
	for _, p := range all {
		if p.ExecutionTimeframe != want[p.Key] || p.Name == "" || p.Action == "" {
			t.Errorf("%+v, want timeframe %d", p, want[p.Key])
		}
	}
	if _, err := u.Patch(context.Background(), nil); err == nil {
		t.Error("an empty body was taken")
	}
}
