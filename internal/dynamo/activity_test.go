package dynamo

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

// A timeline stored compactly reads back exactly, and small: names and keys
// become indexes into the snapshot, actions codes, times numbers.
func TestCompactTimelineRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 3, 7, 0, 0, 123456000, time.UTC)
	hooks := []gate.SnapshotWebhook{{Key: "crm", Name: "Called"}, {Key: "ticketing", Name: "Ticketing, the 'big' one"}, {Key: "k3", Name: "é😀"}}
	r := &gate.PrivacyRequest{ID: gate.NewRequestID(), Status: gate.StatusPending, PolicyKey: "default_access_policy", PolicyAction: "access",
		CreatedAt: at, UpdatedAt: at, Webhooks: hooks}
	var mentions []gate.Mention
	var names []string
	for i, h := range hooks {
		mentions = append(mentions, gate.Mention{Index: i, Key: h.Key, Name: h.Name})
		names = append(names, h.Name)
	}
	m := func(i int) []gate.Mention { return mentions[i : i+1] }
	r.Activity = []gate.ActivityEntry{
		{At: at, Action: gate.ActionWebhookTriggered, Message: "Triggered pre-approval webhooks: " + strings.Join(names, ", "), Mentions: mentions},
		{At: at, Action: gate.ActionWebhookCalled, WebhookKey: "crm", Message: "Called pre-approval webhook 'Called': HTTP 200", Mentions: m(0)},
		{At: at, Action: gate.ActionWebhookFailed, WebhookKey: "ticketing", Mentions: m(1),
			Message: fmt.Sprintf("Pre-approval webhook '%s' failed after 10 attempts: %s", hooks[1].Name, "HTTP 503")},
		{At: at, Action: gate.ActionStatusChanged, WebhookKey: "ticketing", Message: "Status changed from awaiting_pre_approval to pending", Mentions: []gate.Mention{{Index: 1, Key: "ticketing"}}},
		{At: at, Action: gate.ActionEligible, WebhookKey: "k3", Message: "Pre-approval webhook 'é😀' responded: eligible", Mentions: m(2)},
		{At: at, Action: gate.ActionApproved, WebhookKey: "k3", Message: "Request auto-approved by pre-approval webhooks"},
		{At: at, Action: "something_new", Message: "a message that names nobody", Actor: "admin"},
		{At: at, Action: gate.ActionDenied, Message: "reason", Actor: "admin", Mentions: []gate.Mention{{Index: 0, Key: "crm", Name: "not in the message"}}},
	}
	av, err := Item(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := unmarshalRequest(av)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Activity) != len(r.Activity) {
		t.Fatalf("%d entries, want %d", len(got.Activity), len(r.Activity))
	}
	for i, want := range r.Activity {
		want.Mentions = nil
		g := got.Activity[i]
		if !g.At.Equal(want.At) || g.Action != want.Action || g.Message != want.Message || g.WebhookKey != want.WebhookKey || g.Actor != want.Actor {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, g, want)
		}
	}
	// The called entry is stored without the name, the key or the action's text.
	called := av["activity"].(*types.AttributeValueMemberL).Value[1]
	if n := AttributeSize(called); n > 45 {
		t.Errorf("the called entry takes %d bytes", n)
	}
}

// Entries stored before the compact layout are read as they were.
func TestFirstLayoutTimelineReads(t *testing.T) {
	old := []map[string]string{
		{"at": "2026-12-01T10:00:00.000001Z", "action": "pre_approval_webhook_triggered", "message": "Triggered pre-approval webhooks: CRM"},
		{"at": "2026-12-01T10:00:01.000001Z", "action": "pre_approval_webhook_called", "message": "Called pre-approval webhook 'CRM': HTTP 200", "webhook_key": "crm"},
		{"at": "2026-12-01T10:00:02.000001Z", "action": "denied", "message": "no", "actor": "admin"},
	}
	list, err := attributevalue.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	av, err := Item(&gate.PrivacyRequest{ID: "pri_x", Status: gate.StatusDenied, CreatedAt: at, UpdatedAt: at, Webhooks: []gate.SnapshotWebhook{{Key: "crm", Name: "CRM"}}})
	if err != nil {
		t.Fatal(err)
	}
	av["activity"] = list
	r, err := unmarshalRequest(av)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range r.Activity {
		if gate.FormatTime(e.At) != old[i]["at"] || e.Action != old[i]["action"] || e.Message != old[i]["message"] || e.WebhookKey != old[i]["webhook_key"] || e.Actor != old[i]["actor"] {
			t.Errorf("entry %d: %+v, want %v", i, e, old[i])
		}
	}
}
