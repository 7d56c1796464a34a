package gate

import (
	"context"
	"fmt"
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
	Deadlines Deadlines
	Notifier  Notifier
	Links     ConsoleLinks
	Now       func() time.Time
}

// open reports whether a request still waits for something before it can
// be executed (the due date concerns it).
func open(st Status) bool {
	switch st {
	case StatusApproved, StatusDenied, StatusCanceled, StatusComplete, StatusInProcessing:
		return false
	}
	return true
}

// Run sends the digest, if any request is due; it returns how many are.
func (d *Digest) Run(ctx context.Context) (int, error) {
	now := d.Now().UTC()
	var due []*PrivacyRequest
	overdue := 0
	for after := ""; ; {
		items, next, err := d.Deadlines.ListDue(ctx, now.Add(DigestHorizon), MaxPageSize, after)
		if err != nil {
			return 0, fmt.Errorf("list due requests: %w", err)
		}
		for _, r := range items {
			if !open(r.Status) {
				continue
			}
			due = append(due, r)
			if r.DueDate.Before(now) {
				overdue++
			}
		}
		if next == "" {
			break
		}
		after = next
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
