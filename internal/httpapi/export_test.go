package httpapi

import (
	"strings"
	"testing"
	"time"

	"github.com/pregate/pregate/internal/gate"
)

// TestExportRows: webhooks as key:state pairs joined by ';', decided_by
// empty for an automatic decision and the admin's for a review, empty
// cells for what a request does not have yet.
func TestExportRows(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	due, decided := at.AddDate(0, 0, 30), at.Add(time.Hour)
	hooks := []gate.SnapshotWebhook{{Key: "crm", Reply: gate.WebhookEligible}, {Key: "hr", Delivery: gate.WebhookFailed}, {Key: "fraud", Mode: gate.ModeShadow, Reply: gate.WebhookNotEligible}}
	for _, c := range []struct {
		r    gate.PrivacyRequest
		want string
	}{
		{gate.PrivacyRequest{ID: "pri_1", Status: gate.StatusApproved, PolicyKey: "default_access_policy", CreatedAt: at, DueDate: &due, ApprovedAt: &decided, Webhooks: hooks[:1]},
			"pri_1|approved|default_access_policy|2026-12-07T09:00:00.000000Z|2027-01-06T09:00:00.000000Z|2026-12-07T10:00:00.000000Z||crm:eligible"},
		{gate.PrivacyRequest{ID: "pri_2", Status: gate.StatusDenied, PolicyKey: "default_erasure_policy", CreatedAt: at, ReviewedAt: &decided, ReviewedBy: "ada", Webhooks: hooks},
			"pri_2|denied|default_erasure_policy|2026-12-07T09:00:00.000000Z||2026-12-07T10:00:00.000000Z|ada|crm:eligible;hr:failed;fraud:not_eligible (shadow)"},
		{gate.PrivacyRequest{ID: "pri_3", Status: gate.StatusPending, PolicyKey: "default_access_policy", CreatedAt: at, DueDate: &due},
			"pri_3|pending|default_access_policy|2026-12-07T09:00:00.000000Z|2027-01-06T09:00:00.000000Z|||"},
	} {
		if got := strings.Join(exportRow(&c.r), "|"); got != c.want {
			t.Errorf("row of %s:\n got %s\nwant %s", c.r.ID, got, c.want)
		}
	}
}
