package gate

import (
	"context"
	"strings"
	"testing"
	"time"
)

type dueList []*PrivacyRequest

func (d dueList) Extend(context.Context, ExtendWrite) (*PrivacyRequest, error) { return nil, nil }
func (d dueList) FindByIdentity(context.Context, IdentityHashes, int) ([]*PrivacyRequest, error) {
	return nil, nil
}

// ListDue pages two at a time, to make the digest follow the cursor.
func (d dueList) ListDue(_ context.Context, before time.Time, _ int, after string) ([]*PrivacyRequest, string, error) {
	var out []*PrivacyRequest
	for _, r := range d {
		if r.DueDate.Before(before) && DueKey(r) > after {
			out = append(out, r)
		}
	}
	if len(out) > 2 {
		return out[:2], DueKey(out[1]), nil
	}
	return out, "", nil
}

type notes []Notification

func (n *notes) Notify(_ context.Context, x Notification) error {
	*n = append(*n, x)
	return nil
}

func TestDailyDigestCountsOpenRequestsDueSoon(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	reqs := dueList{ // soonest due first, as the index lists them
		{ID: "pri_00000000-0000-4000-8000-000000000006", Status: StatusDenied, DueDate: at(-2 * time.Hour)},
		{ID: "pri_00000000-0000-4000-8000-000000000001", Status: StatusPending, DueDate: at(-time.Hour)},
		{ID: "pri_00000000-0000-4000-8000-000000000002", Status: StatusApproved, DueDate: at(time.Hour)},
		{ID: "pri_00000000-0000-4000-8000-000000000003", Status: StatusAwaitingPreApproval, DueDate: at(2 * time.Hour)},
		{ID: "pri_00000000-0000-4000-8000-000000000004", Status: StatusPreApprovalNotEligible, DueDate: at(6 * 24 * time.Hour)},
		{ID: "pri_00000000-0000-4000-8000-000000000005", Status: StatusPending, DueDate: at(8 * 24 * time.Hour)},
	}
	var sent notes
	d := &Digest{Deadlines: reqs, Notifier: &sent, Links: ConsoleLinks{PublicBaseURL: "https://g.example.com/api/v1"}, Now: func() time.Time { return now }}
	n, err := d.Run(context.Background())
	if err != nil || n != 3 || len(sent) != 1 {
		t.Fatalf("due %d, %d notifications, %v", n, len(sent), err)
	}
	m := sent[0]
	if m.Kind != NotifyDailyDigest || !strings.Contains(m.Message, "3 privacy requests are due within 7 days, 1 of them overdue") ||
		strings.Contains(m.Message, reqs[2].ID) || strings.Contains(m.Message, reqs[5].ID) || strings.Contains(m.Message, reqs[0].ID) || !strings.Contains(m.Message, "https://g.example.com/admin/#/requests?view=due") {
		t.Errorf("%+v", m)
	}
	sent = nil
	d.Deadlines = dueList{}
	if n, _ := d.Run(context.Background()); n != 0 || len(sent) != 0 {
		t.Errorf("nothing due: %d, %d notifications", n, len(sent))
	}
}
