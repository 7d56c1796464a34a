package local_test

import (
	"slices"
	"strings"
	"testing"
	"time"
)

type rolloutWebhook struct {
	Key           string   `json:"key"`
	PolicyActions []string `json:"policy_actions"`
}

type testCallOut struct {
	TestID     string  `json:"test_id"`
	Status     string  `json:"status"`
	HTTPStatus *int    `json:"http_status"`
	LatencyMS  *int    `json:"latency_ms"`
	Reply      *string `json:"reply"`
}

type deliveriesOut struct {
	Items []struct {
		PrivacyRequestID string `json:"privacy_request_id"`
		Attempt          int    `json:"attempt"`
		Outcome          string `json:"outcome"`
		HTTPStatus       *int   `json:"http_status"`
		LatencyMS        *int   `json:"latency_ms"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

type healthOut struct {
	Calls               int  `json:"calls"`
	Failures            int  `json:"failures"`
	Eligible            int  `json:"eligible"`
	P95                 *int `json:"p95_latency_ms"`
	ConsecutiveFailures int  `json:"consecutive_failures"`
}

// A webhook scoped to erasure is not in an access request's snapshot; a
// test call reaches its validator marked as a test, and the validator's
// reply with that call's token is recorded on the test (and works for
// nothing else); the calls of real requests, and their replies, fill the
// webhook's delivery log and health, and the test is in neither.
func TestWebhookScopeTestCallAndDeliveryLog(t *testing.T) {
	c := admin(t)
	v := newValidator(t, 200)
	hook := unique("rollout")
	conn := unique("rolloutconn")
	c.must(200, "PATCH", "/connection", []map[string]any{{"key": conn, "name": "Conn " + conn, "connection_type": "https", "access": "read"}}, nil)
	c.must(200, "PUT", "/connection/"+conn+"/secret", map[string]any{"url": v.srv.URL + "/hook", "authorization": "Bearer x"}, nil)
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []map[string]any{{"key": hook, "name": "Hook " + hook, "connection_config_key": conn, "policy_actions": []string{"erasure"}}}, nil)
	t.Cleanup(func() { c.do("PUT", "/dsr/webhook/pre_approval", []any{}) })
	base := "/dsr/webhook/pre_approval/" + hook

	// Bad input: 4xx, nothing changed.
	for _, bad := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"PATCH", base, map[string]any{"policy_actions": []string{}}, 422},
		{"PATCH", base, map[string]any{"policy_actions": []string{"erasure", "consent"}}, 422},
		{"POST", "/dsr/webhook/pre_approval/" + unique("ghost") + "/test", nil, 404},
		{"GET", base + "/deliveries", nil, 200},
		{"GET", base + "/deliveries?cursor=bm9wZQ", nil, 400},
		{"GET", "/dsr/webhook/pre_approval/" + unique("ghost") + "/health", nil, 404},
	} {
		code, raw := c.do(bad.method, bad.path, bad.body)
		if code != bad.want {
			t.Fatalf("%s %s: %d %s, want %d", bad.method, bad.path, code, raw, bad.want)
		}
	}
	var one rolloutWebhook
	c.must(200, "GET", base, nil, &one)
	if !slices.Equal(one.PolicyActions, []string{"erasure"}) {
		t.Fatalf("after refused changes: %+v", one)
	}

	// Scope: an access request takes no webhook, and waits for an admin.
	id, status := c.submit()
	var req requestOut
	c.must(200, "GET", "/privacy-request/"+id, nil, &req)
	if status != "pending" || len(req.Webhooks) != 0 {
		t.Fatalf("access request with only an erasure webhook: %s, %+v", status, req.Webhooks)
	}
	var act activityOut
	c.must(200, "GET", "/privacy-request/"+id+"/activity", nil, &act)
	if !hasActivity(act, "status_changed", "No pre-approval webhook applies to access requests") {
		t.Fatalf("timeline of a request no webhook applies to: %+v", act.Items)
	}

	// A test call: one signed call marked as a test, its reply recorded on the test.
	var sent testCallOut
	c.must(202, "POST", base+"/test", nil, &sent)
	if !strings.HasPrefix(sent.TestID, "pri_test_") {
		t.Fatalf("test id %q", sent.TestID)
	}
	waitUntil(t, 30*time.Second, func() bool { return len(v.received()) == 1 })
	call := v.received()[0]
	if call.header.Get("pregate-test") != "true" || call.header.Get("webhook-signature") == "" || !strings.Contains(call.header.Get("reply-to-eligible"), sent.TestID) {
		t.Fatalf("test call headers: %v", call.header)
	}
	if code, raw := reply(t, id, "eligible", "Bearer "+call.header.Get("reply-to-token")); code != 403 {
		t.Fatalf("a test's token on a request: %d %s", code, raw)
	}
	replyEligible(t, call.header)
	var got testCallOut
	waitUntil(t, 10*time.Second, func() bool {
		c.must(200, "GET", base+"/test/"+sent.TestID, nil, &got)
		return got.Status == "replied" && got.HTTPStatus != nil
	})
	if *got.HTTPStatus != 200 || got.LatencyMS == nil || got.Reply == nil || *got.Reply != "eligible" {
		t.Fatalf("test after its reply: %+v", got)
	}
	if code, _ := c.do("GET", "/dsr/webhook/pre_approval/"+hook+"x/test/"+sent.TestID, nil); code != 404 {
		t.Fatalf("a test read under another webhook: %d", code)
	}

	// An erasure request calls the webhook: its call and reply are logged and counted.
	var sub struct {
		Succeeded []struct{ ID string } `json:"succeeded"`
	}
	c.must(200, "POST", "/privacy-request", []map[string]any{{"identity": map[string]string{"email": "e@example.com"}, "policy_key": "default_erasure_policy"}}, &sub)
	erasure := sub.Succeeded[0].ID
	waitUntil(t, 30*time.Second, func() bool { return len(v.received()) == 2 })
	replyEligible(t, v.received()[1].header)
	var log deliveriesOut
	waitUntil(t, 10*time.Second, func() bool {
		c.must(200, "GET", base+"/deliveries?size=10", nil, &log)
		return len(log.Items) == 1 && log.Items[0].Outcome == "eligible"
	})
	if a := log.Items[0]; a.PrivacyRequestID != erasure || a.Attempt != 1 || a.HTTPStatus == nil || *a.HTTPStatus != 200 || a.LatencyMS == nil || log.NextCursor != nil {
		t.Fatalf("delivery log: %+v", log)
	}
	var health healthOut
	c.must(200, "GET", base+"/health", nil, &health)
	if health.Calls != 1 || health.Failures != 0 || health.Eligible != 1 || health.P95 == nil || health.ConsecutiveFailures != 0 {
		t.Fatalf("health (the test call is not counted): %+v", health)
	}
	c.must(200, "GET", "/privacy-request/"+erasure, nil, &req)
	if req.Status != "approved" {
		t.Fatalf("erasure request: %s", req.Status)
	}
}
