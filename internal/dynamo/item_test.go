package dynamo

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

// Every field of a request reads back as it was written.
func TestRequestItemRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 7, 16, 0, 0, 123456000, time.UTC)
	later := at.Add(90 * time.Second)
	due := at.Add(30 * 24 * time.Hour).Truncate(time.Second)
	r := &gate.PrivacyRequest{
		ID: gate.NewRequestID(), Status: gate.StatusApproved, PolicyKey: "default_erasure_policy", PolicyAction: "erasure",
		Identity: gate.Identity{Email: "ada@example.com", PhoneNumber: "+15555550100"}, ExternalID: "crm-42",
		CreatedAt: at, UpdatedAt: later, IdentityVerifiedAt: &at, ReviewedAt: &later, ReviewedBy: "admin", ApprovedAt: &later, ApprovedBy: "admin",
		Webhooks: []gate.SnapshotWebhook{
			{Key: "crm", Name: "CRM", Mode: gate.ModeEnforce, Delivery: gate.WebhookCalled, Attempts: 1, Reply: gate.WebhookEligible, RepliedAt: &later},
			{Key: "fraud", Name: "Fraud", Mode: gate.ModeShadow, Delivery: gate.WebhookFailed, Attempts: 3},
			{Key: "kyc", Name: "KYC", Mode: gate.ModeEnforce, Reply: gate.WebhookNotEligible, RepliedAt: &at},
		},
		WebhooksVersion: 7, Run: 2, DueAt: &later, PublishedAt: &later,
		Publishing: &gate.PublishClaim{Token: "0123456789abcdef01234567", Until: later.Add(time.Minute)},
		Code:       &gate.VerificationCode{Hash: strings.Repeat("ab", 32), ExpiresAt: at.Add(15 * time.Minute), Attempts: 2},
		DueDate:    &due, Extended: true, DenyReason: "kept for the test",
		Activity: []gate.ActivityEntry{{At: at, Kind: gate.KindTriggered, Hooks: []gate.Mention{{Index: 0, Key: "crm", Name: "CRM"}, {Index: 1, Key: "fraud", Name: "Fraud", Shadow: true}, {Index: 2, Key: "kyc", Name: "KYC"}}},
			{At: later, Kind: gate.KindAdminApproved, Actor: "admin"}},
	}
	got, err := unmarshalRequest(Item(r))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("reads back as\n%+v\nwant\n%+v", got, r)
	}
	// A stored time that is not a number is an error, never a zero time.
	bad := Item(r)
	bad[attrUpdatedAt] = stringValue(gate.FormatTime(at))
	if _, err := unmarshalRequest(bad); err == nil || !strings.Contains(err.Error(), r.ID) {
		t.Errorf("a time stored as text: %v", err)
	}
	bad = Item(r)
	bad[AttrWebhooks].(*types.AttributeValueMemberL).Value[0].(*types.AttributeValueMemberM).Value[hookReply] = stringValue("maybe")
	if _, err := unmarshalRequest(bad); err == nil {
		t.Error("a webhook state the store does not know reads back")
	}
}

// The whole life of a request auto-approved by three webhooks (keys of 20
// characters, names of 30, an email of 30, each call's evidence kept) stays under 1 KB, so each of its
// writes costs one write unit: its largest moment is the publication's
// claim, before the mark drops it.
func TestApprovedItemWithThreeWebhooksStaysUnderOneKB(t *testing.T) {
	at := time.Date(2026, 12, 7, 16, 0, 0, 123456000, time.UTC)
	r := &gate.PrivacyRequest{
		ID: gate.NewRequestID(), Status: gate.StatusAwaitingPreApproval, PolicyKey: "default_access_policy", PolicyAction: "access",
		Identity: gate.Identity{Email: strings.Repeat("a", 18) + "@example.com"}, CreatedAt: at, UpdatedAt: at, WebhooksVersion: 12,
		Hashes: gate.IdentityHashes{Email: strings.Repeat("h", 22)},
	}
	due := at.Add(30 * 24 * time.Hour).Truncate(time.Second)
	r.DueDate, r.DueAt = &due, &at
	var all []gate.Mention
	for i := range 3 {
		key := strings.Repeat(string(rune('a'+i)), 20)
		r.Webhooks = append(r.Webhooks, gate.SnapshotWebhook{Key: key, Name: strings.Repeat("N", 30), Mode: gate.ModeEnforce})
		all = append(all, gate.Mention{Index: i, Key: key})
	}
	r.Activity = []gate.ActivityEntry{{At: at, Kind: gate.KindTriggered, Hooks: all}}
	largest := 0
	measure := func(step string) {
		n := ItemSize(Item(r))
		largest = max(largest, n)
		if n >= 1024 {
			t.Errorf("after %s the item is %d bytes", step, n)
		}
	}
	measure("submission")
	later := at.Add(1234567 * time.Microsecond)
	for i := range 3 {
		r.Webhooks[i].Delivery, r.Webhooks[i].Attempts = gate.WebhookCalled, 1
		r.Activity = append(r.Activity, gate.ActivityEntry{At: later, Kind: gate.KindCalled, Hooks: all[i : i+1], HTTPStatus: 202,
			Latency: 1234 * time.Millisecond, BodySHA256: make([]byte, 32)})
	}
	measure("the calls")
	for i := range 3 {
		r.Webhooks[i].Reply, r.Webhooks[i].RepliedAt = gate.WebhookEligible, &later
		r.Activity = append(r.Activity, gate.ActivityEntry{At: later, Kind: gate.KindEligible, Hooks: all[i : i+1]})
	}
	r.Status, r.ApprovedAt, r.UpdatedAt = gate.StatusApproved, &later, later
	r.Activity = append(r.Activity, gate.ActivityEntry{At: later, Kind: gate.KindWebhooksApproved, Hooks: all[2:]})
	measure("the approval")
	r.Publishing = &gate.PublishClaim{Token: strings.Repeat("f", 24), Until: later.Add(time.Minute)}
	measure("the claim")
	r.Publishing, r.PublishedAt, r.DueAt = nil, &later, nil
	measure("the mark")
	t.Logf("largest: %d bytes", largest)
}
