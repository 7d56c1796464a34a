package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pregate/pregate/internal/gate"
)

// TestEvidenceSortsTheTimelineForAnAuditor: each run with the webhooks of
// its snapshot, each call with its HTTP status, latency and body hash, each
// reply with its webhook, verdict (a shadow one's too) and time, each
// admin action with its actor, reason and time; the whole timeline besides.
func TestEvidenceSortsTheTimelineForAnAuditor(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	hr, crm := gate.Mention{Index: 0, Key: "hr", Name: "HR"}, gate.Mention{Index: 1, Key: "crm", Name: "CRM", Shadow: true}
	sum := []byte(strings.Repeat("\xab", 32))
	due := at.AddDate(0, 0, 30)
	entries := []gate.ActivityEntry{
		{At: at, Kind: gate.KindTriggered, Hooks: []gate.Mention{hr, crm}},
		{At: at.Add(time.Second), Kind: gate.KindCalled, Hooks: []gate.Mention{hr}, HTTPStatus: 202, Latency: 35 * time.Millisecond, BodySHA256: sum},
		{At: at.Add(2 * time.Second), Kind: gate.KindShadowEligible, Hooks: []gate.Mention{crm}},
		{At: at.Add(3 * time.Second), Kind: gate.KindNotEligible, Hooks: []gate.Mention{hr}},
		{At: at.Add(4 * time.Second), Kind: gate.KindDeadlineExtended, Days: 10, Reason: "documents asked for", Actor: "ada"},
		{At: at.Add(5 * time.Second), Kind: gate.KindAdminApproved, Actor: "bob"},
	}
	req := &gate.PrivacyRequest{ID: "pri_11111111-1111-4111-8111-111111111111", Status: gate.StatusApproved, PolicyKey: "default_access_policy",
		CreatedAt: at, DueDate: &due}
	raw, err := json.Marshal(evidenceOf(gate.Evidence{Request: req, Activity: entries, Runs: []gate.EvidenceRun{{Run: 0, Triggered: entries[0]}}}, "now"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Request struct{ ID string }
		Runs    []struct {
			Run      int
			Snapshot string
			Webhooks []struct{ Key, Name, Mode string }
		}
		Calls []struct {
			WebhookKey string `json:"webhook_key"`
			HTTPStatus int    `json:"http_status"`
			LatencyMS  int    `json:"latency_ms"`
			BodySHA256 string `json:"body_sha256"`
		}
		Replies []struct {
			At         string
			WebhookKey string `json:"webhook_key"`
			Verdict    string
			Mode       string
		}
		AdminActions []map[string]any `json:"admin_actions"`
		Timeline     []any
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Request.ID != req.ID || len(doc.Timeline) != len(entries) {
		t.Errorf("request %s, %d timeline entries", doc.Request.ID, len(doc.Timeline))
	}
	if len(doc.Runs) != 1 || len(doc.Runs[0].Webhooks) != 2 || doc.Runs[0].Webhooks[0].Key != "hr" || doc.Runs[0].Webhooks[0].Mode != "enforce" ||
		doc.Runs[0].Webhooks[1].Name != "CRM" || doc.Runs[0].Webhooks[1].Mode != "shadow" {
		t.Errorf("runs: %+v", doc.Runs)
	}
	if len(doc.Calls) != 1 || doc.Calls[0].WebhookKey != "hr" || doc.Calls[0].HTTPStatus != 202 || doc.Calls[0].LatencyMS != 35 ||
		doc.Calls[0].BodySHA256 != strings.Repeat("ab", 32) {
		t.Errorf("calls: %+v", doc.Calls)
	}
	if len(doc.Replies) != 2 || doc.Replies[0].WebhookKey != "crm" || doc.Replies[0].Verdict != "eligible" || doc.Replies[0].Mode != "shadow" ||
		doc.Replies[1].Verdict != "not_eligible" || doc.Replies[1].Mode != "enforce" || doc.Replies[1].At != "2026-12-07T09:00:03.000000Z" {
		t.Errorf("replies: %+v", doc.Replies)
	}
	want := []map[string]any{
		{"actor": "ada", "action": "deadline_extended", "reason": "documents asked for", "at": "2026-12-07T09:00:04.000000Z"},
		{"actor": "bob", "action": "approved", "reason": nil, "at": "2026-12-07T09:00:05.000000Z"},
	}
	if len(doc.AdminActions) != len(want) {
		t.Fatalf("admin actions: %+v", doc.AdminActions)
	}
	for i, w := range want {
		for k, v := range w {
			if got, ok := doc.AdminActions[i][k]; !ok || got != v {
				t.Errorf("admin action %d: %s is %v, want %v", i, k, got, v)
			}
		}
	}
}
