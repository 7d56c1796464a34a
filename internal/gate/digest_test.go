package gate

import (
	"context"
	"strings"
	"testing"
	"time"
)

// statusLists lists requests by status, two at a time, to make the digest
// follow the cursor, and counts the statuses read.
type statusLists struct {
	all  []*PrivacyRequest
	read map[Status]int
}

func (l *statusLists) List(_ context.Context, q ListQuery) ([]*PrivacyRequest, string, error) {
	l.read[q.Status]++
	var out []*PrivacyRequest
	for _, r := range l.all {
		if r.Status == q.Status && r.ID > q.After {
			out = append(out, r)
		}
	}
	if len(out) > 2 {
		return out[:2], out[1].ID, nil
	}
	return out, "", nil
}

type notes []Notification

func (n *notes) Notify(_ context.Context, x Notification) error {
	*n = append(*n, x)
	return nil
}

// TestDailyDigestCountsOpenRequestsDueSoon: the digest reads the open
// statuses only, never the decided ones (a year of them at a million a
// day), follows their cursors, and names the requests due within 7 days or
// overdue, soonest first.
func TestDailyDigestCountsOpenRequestsDueSoon(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	reqs := []*PrivacyRequest{
		{ID: "pri_00000000-0000-4000-8000-000000000006", Status: StatusDenied, DueDate: at(-2 * time.Hour)},
		{ID: "pri_00000000-0000-4000-8000-000000000001", Status: StatusPending, DueDate: at(-time.Hour)},
		{ID: "pri_00000000-0000-4000-8000-000000000002", Status: StatusApproved, DueDate: at(time.Hour)},
		{ID: "pri_00000000-0000-4000-8000-000000000003", Status: StatusAwaitingPreApproval, DueDate: at(2 * time.Hour)},
		{ID: "pri_00000000-0000-4000-8000-000000000004", Status: StatusPreApprovalNotEligible, DueDate: at(6 * 24 * time.Hour)},
		{ID: "pri_00000000-0000-4000-8000-000000000005", Status: StatusPending, DueDate: at(8 * 24 * time.Hour)},
		{ID: "pri_00000000-0000-4000-8000-000000000007", Status: StatusPending, DueDate: at(3 * time.Hour)},
		{ID: "pri_00000000-0000-4000-8000-000000000008", Status: StatusPending, DueDate: at(4 * time.Hour)},
		{ID: "pri_00000000-0000-4000-8000-000000000009", Status: StatusPending},
	}
	lists := &statusLists{all: reqs, read: map[Status]int{}}
	var sent notes
	d := &Digest{Requests: lists, Notifier: &sent, Links: ConsoleLinks{PublicBaseURL: "https://g.example.com/api/v1"}, Now: func() time.Time { return now }}
	n, err := d.Run(context.Background())
	if err != nil || n != 5 || len(sent) != 1 {
		t.Fatalf("due %d, %d notifications, %v", n, len(sent), err)
	}
	m := sent[0]
	if m.Kind != NotifyDailyDigest || !strings.Contains(m.Message, "5 privacy requests are due within 7 days, 1 of them overdue") ||
		strings.Contains(m.Message, reqs[2].ID) || strings.Contains(m.Message, reqs[5].ID) || strings.Contains(m.Message, reqs[0].ID) || strings.Contains(m.Message, reqs[8].ID) || !strings.Contains(m.Message, "https://g.example.com/admin/#/requests?view=due") {
		t.Errorf("%+v", m)
	}
	// Soonest due first; the decided statuses are never read.
	if i, j := strings.Index(m.Message, reqs[6].ID), strings.Index(m.Message, reqs[7].ID); i < 0 || j < 0 || i > j {
		t.Errorf("not soonest due first:\n%s", m.Message)
	}
	if lists.read[StatusApproved]+lists.read[StatusDenied] != 0 || lists.read[StatusPending] != 3 {
		t.Errorf("statuses read: %v, want pending three times (two a page) and no decided one", lists.read)
	}
	sent = nil
	d.Requests = &statusLists{read: map[Status]int{}}
	if n, _ := d.Run(context.Background()); n != 0 || len(sent) != 0 {
		t.Errorf("nothing due: %d, %d notifications", n, len(sent))
	}
}
