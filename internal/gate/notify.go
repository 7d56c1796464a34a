package gate

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// The kinds of notification admins get.
const (
	// NotifyNeedsReview: a request reached pending or
	// pre_approval_not_eligible and waits for an admin.
	NotifyNeedsReview = "needs_review"
	// NotifyDailyDigest: once a day, the requests due within 7 days or overdue.
	NotifyDailyDigest = "daily_digest"
	// NotifyWebhookFailing: a webhook's deliveries failed for good several
	// times in a row.
	NotifyWebhookFailing = "webhook_failing"
)

// Notification is one message to the admins. It names requests by id and
// links to the console, never the data subject's identity: notifications
// leave the system by email.
type Notification struct {
	At               time.Time
	Kind             string
	Subject          string
	Message          string
	PrivacyRequestID string // "" when it is about no single request
}

// Notifier tells the admins (an SNS topic in AWS).
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// ConsoleLinks makes the console's links from the API's public base URL
// (".../api/v1"); the console is served at "/admin/" on the same host.
type ConsoleLinks struct{ PublicBaseURL string }

func (l ConsoleLinks) base() string {
	return strings.TrimSuffix(strings.TrimSuffix(l.PublicBaseURL, "/"), "/api/v1") + "/admin/"
}

// Request is the console page of request id.
func (l ConsoleLinks) Request(id string) string { return l.base() + "#/requests/" + id }

// DueSoon is the console's list of requests due soon.
func (l ConsoleLinks) DueSoon() string { return l.base() + "#/requests?view=due" }

// Webhooks is the console's webhooks page.
func (l ConsoleLinks) Webhooks() string { return l.base() + "#/webhooks" }

// NeedsReview is the notification of request r waiting for an admin in
// status st (pending or pre_approval_not_eligible).
func NeedsReview(l ConsoleLinks, id string, st Status, at time.Time) Notification {
	why := "no pre-approval webhook decided it"
	if st == StatusPreApprovalNotEligible {
		why = "a pre-approval webhook replied not eligible"
	}
	return Notification{
		At: at, Kind: NotifyNeedsReview, PrivacyRequestID: id,
		Subject: "Privacy request needs review",
		Message: fmt.Sprintf("Privacy request %s is %s (%s) and waits for an admin's decision.\n%s\n", id, st, why, l.Request(id)),
	}
}

// WebhookFailing is the notification of webhook key whose deliveries
// failed for good n times in a row.
func WebhookFailing(l ConsoleLinks, key string, n int, at time.Time) Notification {
	return Notification{
		At: at, Kind: NotifyWebhookFailing,
		Subject: "Pre-approval webhook failing",
		Message: fmt.Sprintf("The deliveries of pre-approval webhook '%s' failed %d times in a row; the requests it was called for wait for an admin.\n%s\n",
			key, n, l.Webhooks()),
	}
}
