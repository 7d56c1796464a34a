package local_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"
)

type shadowRequest struct {
	Status   string `json:"status"`
	Webhooks []struct {
		Key   string `json:"key"`
		State string `json:"state"`
		Mode  string `json:"mode"`
	} `json:"webhooks"`
}

// callFor waits for v's call about request id and returns its headers.
func callFor(t *testing.T, v *validator, id string) http.Header {
	t.Helper()
	return callMadeFor(t, v, id).header
}

// callMadeFor waits for v's call about request id.
func callMadeFor(t *testing.T, v *validator, id string) validatorCall {
	t.Helper()
	var got validatorCall
	waitUntil(t, 30*time.Second, func() bool {
		for _, call := range v.received() {
			if strings.Contains(call.header.Get("reply-to-eligible"), id) {
				got = call
				return true
			}
		}
		return false
	})
	return got
}

// Shadow mode end to end, one behaviour after the other on one webhook set:
// an enforce webhook "e" and a shadow webhook "s", each on its own validator.
//   - e eligible and s not eligible: approved, the shadow verdict on the timeline;
//   - s silent: e's eligible approves at once; s replying after the decision is 200 and recorded;
//   - s failing for good never holds the request, and says it is not counted;
//   - s alone: the request waits for an admin, as with no webhook, and s is still called and recorded;
//   - s promoted to enforce: requests submitted afterwards await it.
func TestShadowWebhooks(t *testing.T) {
	c := admin(t)
	ve, vs := newValidator(t, 200), newValidator(t, 200)
	e, s := unique("enf"), unique("shd")
	conns := map[string]string{}
	for key, v := range map[string]*validator{e: ve, s: vs} {
		conns[key] = unique("shadowconn")
		c.must(200, "PATCH", "/connection", []map[string]any{{"key": conns[key], "name": "Conn " + conns[key], "connection_type": "https", "access": "read"}}, nil)
		c.must(200, "PUT", "/connection/"+conns[key]+"/secret", map[string]any{"url": v.srv.URL + "/hook", "authorization": "Bearer x"}, nil)
	}
	var set []struct {
		Key  string `json:"key"`
		Mode string `json:"mode"`
	}
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []map[string]any{
		{"key": e, "name": "Hook " + e, "connection_config_key": conns[e]},
		{"key": s, "name": "Hook " + s, "connection_config_key": conns[s], "mode": "shadow"},
	}, &set)
	t.Cleanup(func() { c.do("PUT", "/dsr/webhook/pre_approval", []any{}) })
	if len(set) != 2 || set[0].Mode != "enforce" || set[1].Mode != "shadow" {
		t.Fatalf("webhook set: %+v", set)
	}
	if code, raw := c.do("PATCH", "/dsr/webhook/pre_approval/"+s, map[string]any{"mode": "observe"}); code != 422 {
		t.Fatalf("a bad mode: %d %s", code, raw)
	}
	timeline := func(id string) activityOut {
		t.Helper()
		var act activityOut
		c.must(200, "GET", "/privacy-request/"+id+"/activity", nil, &act)
		return act
	}
	get := func(id string) shadowRequest {
		t.Helper()
		var r shadowRequest
		c.must(200, "GET", "/privacy-request/"+id, nil, &r)
		return r
	}
	shadowSaid := func(verdict string) string { return "Shadow webhook 'Hook " + s + "' responded: " + verdict }

	// Enforce eligible, shadow not eligible: approved, and the timeline shows the shadow's verdict.
	first, _ := c.submit()
	replyTo(t, callFor(t, vs, first), "reply-to-not-eligible")
	if r := get(first); r.Status != "awaiting_pre_approval" || len(r.Webhooks) != 2 || r.Webhooks[0].Mode != "enforce" ||
		r.Webhooks[1].Mode != "shadow" || r.Webhooks[1].State != "not_eligible" {
		t.Fatalf("after the shadow's verdict: %+v", r)
	}
	enforced := callMadeFor(t, ve, first)
	replyEligible(t, enforced.header)
	act := timeline(first)
	if r := get(first); r.Status != "approved" || !hasActivity(act, "pre_approval_shadow_reply", shadowSaid("not eligible")) ||
		!hasActivity(act, "pre_approval_webhook_triggered", "Triggered pre-approval webhooks: Hook "+e+", Hook "+s+" (shadow)") {
		t.Fatalf("enforce eligible, shadow not eligible: %s, %+v", r.Status, act.Items)
	}
	// The evidence of each call: its HTTP status, latency and the SHA-256 of the body the validator got.
	var evidence struct {
		Calls []struct {
			WebhookKey string `json:"webhook_key"`
			HTTPStatus *int   `json:"http_status"`
			LatencyMS  *int   `json:"latency_ms"`
			BodySHA256 string `json:"body_sha256"`
		} `json:"calls"`
		Replies []struct {
			Action string `json:"action"`
		} `json:"replies"`
	}
	sum := sha256.Sum256(enforced.body)
	called := func() bool { // the called entry is written as the call returns, perhaps after the reply
		c.must(200, "GET", "/privacy-request/"+first+"/evidence", nil, &evidence)
		for _, call := range evidence.Calls {
			if call.WebhookKey == e {
				return call.HTTPStatus != nil && *call.HTTPStatus == 200 && call.LatencyMS != nil && call.BodySHA256 == hex.EncodeToString(sum[:])
			}
		}
		return false
	}
	waitUntil(t, 10*time.Second, func() bool { return called() || len(evidence.Calls) >= 2 })
	if !called() || len(evidence.Replies) != 2 {
		t.Fatalf("evidence of the calls and replies: %+v, want %s's body hashed to %x", evidence, e, sum)
	}

	// A silent shadow holds nothing; its reply after the decision is 200 and recorded.
	late, _ := c.submit()
	replyEligible(t, callFor(t, ve, late))
	if r := get(late); r.Status != "approved" {
		t.Fatalf("with the shadow silent: %+v", r)
	}
	replyTo(t, callFor(t, vs, late), "reply-to-not-eligible")
	if r := get(late); r.Status != "approved" || r.Webhooks[1].State != "not_eligible" || !hasActivity(timeline(late), "pre_approval_shadow_reply", shadowSaid("not eligible")) {
		t.Fatalf("a shadow reply after the decision: %+v", r)
	}

	// A shadow failing for good (3 attempts locally) never holds the request.
	vs.status.Store(500)
	failing, _ := c.submit()
	replyEligible(t, callFor(t, ve, failing))
	waitUntil(t, 30*time.Second, func() bool { return get(failing).Webhooks[1].State == "failed" })
	failed := "Pre-approval webhook 'Hook " + s + "' failed after 3 attempts: HTTP 500 (shadow, not counted)"
	if r := get(failing); r.Status != "approved" || !hasActivity(timeline(failing), "pre_approval_webhook_failed", failed) {
		t.Fatalf("a failing shadow: %+v, %+v", r, timeline(failing).Items)
	}
	vs.status.Store(200)

	// Shadow only: where a request with no webhooks goes, and the shadow is still called and recorded.
	c.must(200, "DELETE", "/dsr/webhook/pre_approval/"+e, nil, nil)
	alone, status := c.submit()
	replyEligible(t, callFor(t, vs, alone))
	act = timeline(alone)
	if r := get(alone); status != "pending" || r.Status != "pending" || r.Webhooks[0].State != "eligible" ||
		!hasActivity(act, "status_changed", "Request submitted: awaiting manual review") || !hasActivity(act, "pre_approval_shadow_reply", shadowSaid("eligible")) {
		t.Fatalf("shadow only: %s, %+v, %+v", status, r, act.Items)
	}

	// Promoted: the next request awaits it; the earlier one keeps its snapshot.
	var promoted struct {
		Mode string `json:"mode"`
	}
	c.must(200, "PATCH", "/dsr/webhook/pre_approval/"+s, map[string]any{"mode": "enforce"}, &promoted)
	if promoted.Mode != "enforce" {
		t.Fatalf("promotion: %+v", promoted)
	}
	if next, status := c.submit(); status != "awaiting_pre_approval" || get(alone).Webhooks[0].Mode != "shadow" {
		t.Fatalf("after the promotion: %s is %s", next, status)
	}
}
