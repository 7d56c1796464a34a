package gate

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// DigestHorizon is how far ahead the daily digest looks.
const DigestHorizon = 7 * 24 * time.Hour

// digestListed bounds the requests a digest names one by one; the count
// covers them all.
const digestListed = 50

// Digest tells the admins, once a day, of the open requests due within
// DigestHorizon or overdue.
type Digest struct {
	// Requests lists the requests of one status (RequestStore.List): the
	// digest reads the open ones only. The deadline index also holds every
	// decided request of the retention period, far too many for one run.
	Requests interface {
		List(ctx context.Context, q ListQuery) ([]*PrivacyRequest, string, error)
	}
	Notifier Notifier
	Links    ConsoleLinks
	Now      func() time.Time
}

// Run sends the digest, if any request is due; it returns how many are.
func (d *Digest) Run(ctx context.Context) (int, error) {
	now := d.Now().UTC()
	horizon := now.Add(DigestHorizon)
	var due []*PrivacyRequest
	seen := map[string]bool{} // a request that moves during the run is listed under both statuses
	for _, st := range Statuses {
		if !st.Open() {
			continue
		}
		for after := ""; ; {
			items, next, err := d.Requests.List(ctx, ListQuery{Status: st, Size: MaxPageSize, After: after})
			if err != nil {
				return 0, fmt.Errorf("list %s requests: %w", st, err)
			}
			for _, r := range items {
				if r.DueDate != nil && r.DueDate.Before(horizon) && r.Status.Open() && !seen[r.ID] {
					seen[r.ID] = true
					due = append(due, r)
				}
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].DueDate.Equal(*due[j].DueDate) {
			return due[i].DueDate.Before(*due[j].DueDate)
		}
		return due[i].ID < due[j].ID
	})
	overdue := 0
	for _, r := range due {
		if r.DueDate.Before(now) {
			overdue++
		}
	}
	if len(due) == 0 {
		return 0, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d privacy requests are due within 7 days, %d of them overdue.\n\n", len(due), overdue)
	for _, r := range due[:min(len(due), digestListed)] {
		fmt.Fprintf(&b, "%s  %s  due %s (%d days left)\n", r.ID, r.Status, FormatTime(*r.DueDate), DaysLeft(*r.DueDate, now))
	}
	if len(due) > digestListed {
		fmt.Fprintf(&b, "... and %d more.\n", len(due)-digestListed)
	}
	fmt.Fprintf(&b, "\n%s\n", d.Links.DueSoon())
	n := Notification{At: now, Kind: NotifyDailyDigest, Subject: fmt.Sprintf("%d privacy requests due within 7 days", len(due)), Message: b.String()}
	if err := d.Notifier.Notify(ctx, n); err != nil {
		return 0, err
	}
	return len(due), nil
}
